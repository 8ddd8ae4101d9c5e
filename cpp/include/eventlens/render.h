// eventlens: draw a collision event as a multi-channel image.
//
// The picture is the one of Madrazo et al. (2017): every physics object is a
// circle *outline* centred at (eta, phi) with radius R = C * ln(pT / GeV)
// pixels; eta in [eta_min, eta_max] runs along x (columns), phi in [-pi, pi)
// along y (rows, phi increasing with the row index).  We draw each object type
// into its own channel (or, in the seed-faithful mode, in the seed's RGB
// colours) and keep the detector's cylinder topology: circles wrap around in
// phi and are clipped in eta.
//
// Geometry, exactly (the numpy reference in eventlens.render.reference follows
// these lines operation by operation, in double precision, so both agree bit
// for bit):
//   column  cx = floor((eta - eta_min) / (eta_max - eta_min) * W), W-1 at eta_max
//   row     cy = floor(p / (2 pi) * H), p = fmod(phi + pi, 2 pi) (+ 2 pi if < 0)
//   radius  r  = clamp(floor(C * ln(pT) + 0.5), 1, r_max), r_max = max(1, min(H, W) / 2 - 1)
//   outline the unique pixels of the midpoint circle of radius r; each pixel of a
//           circle is painted once, rows wrap modulo H, columns outside [0, W) are dropped.
//   MET     is drawn at eta = 0 (its eta is ignored).
// Overlaps between circles follow Overlap: kMax (default; per channel maximum),
// kAdd (saturating add) or kOver (later objects paint over earlier ones, as
// matplotlib does; the seed-faithful RGB mode uses it on a white background).
//
// Two entry points share one drawing core:
//   (a) Renderer::event_u8 / event_f32 / event_into_*: one event from NanoAOD
//       columns (RVec<float> per collection, MET scalars) for RDataFrame::Define;
//   (b) Renderer::render_batch_*: N events in the awkward layout (flat arrays +
//       offsets) into a caller-owned (N, C, H, W) buffer, zero-copy from numpy.
#pragma once

#include <ROOT/RVec.hxx>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace eventlens {

/// Physics object types, as stored in eventlens' object tables.
enum ObjectType : std::int32_t { kElectron = 0, kMuon = 1, kPhoton = 2, kJet = 3, kMET = 4 };
inline constexpr int kNumObjectTypes = 5;

/// What is drawn: an object type refined by muon charge or the jet's b-tag.
enum DrawClass : std::int32_t {
  kClsElectron = 0,
  kClsMuonPos = 1,
  kClsMuonNeg = 2,
  kClsPhoton = 3,
  kClsLightJet = 4,
  kClsBJet = 5,
  kClsMET = 6,
};
inline constexpr int kNumDrawClasses = 7;
inline constexpr int kMaxChannels = 16;

enum class Overlap : std::int32_t { kMax = 0, kAdd = 1, kOver = 2 };
enum class EtaPolicy : std::int32_t { kSkip = 0, kClamp = 1 };

/// Everything that decides what an image looks like.  Plain data: Python fills
/// it through PyROOT (eventlens.render.RenderConfig.to_cpp).
struct RenderConfig {
  std::int32_t channels = 6;
  std::int32_t height = 64;
  std::int32_t width = 64;
  double eta_min = -3.0;
  double eta_max = 3.0;
  double radius_scale = 3.0;  ///< C in R = C ln(pT/GeV), pixels
  float btag_threshold = 0.2783f;
  Overlap overlap = Overlap::kMax;
  EtaPolicy eta_policy = EtaPolicy::kSkip;
  /// colour[class][channel]: value 0..255 painted by an object of that class.
  std::array<std::array<std::uint8_t, kMaxChannels>, kNumDrawClasses> colour{};
  /// draw[class] == 0: objects of that class are not drawn (and counted as such).
  std::array<std::uint8_t, kNumDrawClasses> draw{};
  std::array<std::uint8_t, kMaxChannels> background{};

  void set_colour(int cls, int channel, int value);
  void set_draw(int cls, bool on);
  void set_background(int channel, int value);
};

/// Bookkeeping: every object handed to the renderer lands in exactly one of
/// drawn / bad_value / eta_outside / not_drawn / unknown_type.
struct RenderStats {
  std::int64_t events = 0;
  std::int64_t objects = 0;
  std::int64_t drawn = 0;
  std::int64_t bad_value = 0;     ///< NaN/inf pT, eta or phi, or pT <= 0: skipped
  std::int64_t eta_outside = 0;   ///< |eta| outside the canvas with EtaPolicy::kSkip: skipped
  std::int64_t not_drawn = 0;     ///< class switched off in the config: skipped
  std::int64_t unknown_type = 0;  ///< type code not in ObjectType: skipped
  std::int64_t eta_clamped = 0;   ///< drawn at the canvas edge (EtaPolicy::kClamp)
  std::int64_t radius_clamped = 0;  ///< radius above r_max, drawn with r_max

  RenderStats& operator+=(const RenderStats& other);
};

class Renderer {
 public:
  /// Validates the config (std::invalid_argument naming the bad field) and
  /// precomputes the circle outlines for every radius.
  explicit Renderer(const RenderConfig& config);

  const RenderConfig& config() const { return cfg_; }
  std::size_t image_size() const { return image_size_; }
  int max_radius() const { return r_max_; }
  /// The pixel offsets (dx, dy) of the outline of radius r, for tests and docs.
  std::vector<std::int32_t> outline(int r) const;

  // ---- (b) batch, awkward layout ------------------------------------------
  // offsets has n_events + 1 entries; object i of event e lives at flat index
  // offsets[e] + i.  charge and btag may be null (muons then count as positive,
  // jets as light).  out must hold exactly n_events * C * H * W values.
  RenderStats render_batch_u8(std::int64_t n_events, const std::int64_t* offsets,
                              const std::int32_t* type, const float* pt, const float* eta,
                              const float* phi, const std::int32_t* charge, const float* btag,
                              std::uint8_t* out, std::int64_t out_size) const;
  RenderStats render_batch_f32(std::int64_t n_events, const std::int64_t* offsets,
                               const std::int32_t* type, const float* pt, const float* eta,
                               const float* phi, const std::int32_t* charge, const float* btag,
                               float* out, std::int64_t out_size) const;

  /// Which object lit each pixel: the same geometry, but every pixel an object
  /// paints gets that object's position in its event plus one (0: no object),
  /// in each channel the object paints (its non-zero colour channels; every
  /// channel with Overlap::kOver); where outlines overlap, the object drawn
  /// last wins.  Used to map pixel attributions back onto objects.
  RenderStats render_batch_index(std::int64_t n_events, const std::int64_t* offsets,
                                 const std::int32_t* type, const float* pt, const float* eta,
                                 const float* phi, const std::int32_t* charge, const float* btag,
                                 std::int32_t* out, std::int64_t out_size) const;

  /// Where each object lands, as the batch renderers place it (the same code): per
  /// object, in the flat order of the input, four int32 (draw class, column, row,
  /// radius), or (-1, 0, 0, 0) for an object that is not drawn (bad value, outside
  /// the eta range with EtaPolicy::kSkip, class switched off, unknown type).  Two
  /// events whose sequences are equal have identical images in every Overlap mode:
  /// what systematic variations use to re-classify only events whose picture changed.
  /// out must hold 4 * (offsets[n_events] - offsets[0]) values.
  RenderStats render_batch_geometry(std::int64_t n_events, const std::int64_t* offsets,
                                    const std::int32_t* type, const float* pt, const float* eta,
                                    const float* phi, const std::int32_t* charge,
                                    const float* btag, std::int32_t* out,
                                    std::int64_t out_size) const;

  // ---- (a) per event, NanoAOD columns (RDataFrame::Define) ----------------
  // Drawing order: electrons, muons, photons, jets, MET.
  using RVecF = ROOT::RVec<float>;
  using RVecI = ROOT::RVec<int>;
  ROOT::RVec<std::uint8_t> event_u8(const RVecF& el_pt, const RVecF& el_eta, const RVecF& el_phi,
                                    const RVecF& mu_pt, const RVecF& mu_eta, const RVecF& mu_phi,
                                    const RVecI& mu_charge, const RVecF& ph_pt,
                                    const RVecF& ph_eta, const RVecF& ph_phi,
                                    const RVecF& jet_pt, const RVecF& jet_eta,
                                    const RVecF& jet_phi, const RVecF& jet_btag, float met_pt,
                                    float met_phi) const;
  ROOT::RVec<float> event_f32(const RVecF& el_pt, const RVecF& el_eta, const RVecF& el_phi,
                              const RVecF& mu_pt, const RVecF& mu_eta, const RVecF& mu_phi,
                              const RVecI& mu_charge, const RVecF& ph_pt, const RVecF& ph_eta,
                              const RVecF& ph_phi, const RVecF& jet_pt, const RVecF& jet_eta,
                              const RVecF& jet_phi, const RVecF& jet_btag, float met_pt,
                              float met_phi) const;
  /// Zero-copy variant: draws into row `row` of a caller-owned (n_rows, C, H, W)
  /// buffer at address `buffer` (numpy's `arr.ctypes.data`).  Returns the number
  /// of objects drawn.  Thread-safe: distinct rows may be written concurrently.
  std::int64_t event_into_u8(std::uintptr_t buffer, std::uint64_t n_rows, std::uint64_t row,
                             const RVecF& el_pt, const RVecF& el_eta, const RVecF& el_phi,
                             const RVecF& mu_pt, const RVecF& mu_eta, const RVecF& mu_phi,
                             const RVecI& mu_charge, const RVecF& ph_pt, const RVecF& ph_eta,
                             const RVecF& ph_phi, const RVecF& jet_pt, const RVecF& jet_eta,
                             const RVecF& jet_phi, const RVecF& jet_btag, float met_pt,
                             float met_phi) const;
  std::int64_t event_into_f32(std::uintptr_t buffer, std::uint64_t n_rows, std::uint64_t row,
                              const RVecF& el_pt, const RVecF& el_eta, const RVecF& el_phi,
                              const RVecF& mu_pt, const RVecF& mu_eta, const RVecF& mu_phi,
                              const RVecI& mu_charge, const RVecF& ph_pt, const RVecF& ph_eta,
                              const RVecF& ph_phi, const RVecF& jet_pt, const RVecF& jet_eta,
                              const RVecF& jet_phi, const RVecF& jet_btag, float met_pt,
                              float met_phi) const;
  /// Totals of all per-event calls (entry point (a)) since construction or reset.
  RenderStats event_stats() const;
  void reset_event_stats();

 private:
  struct Columns;
  template <typename T>
  void clear(T* image) const;
  /// Pixel geometry of one object: false (and counted) when it is not drawn.
  bool place(int cls, float pt, float eta, float phi, RenderStats& stats, int& cx, int& cy,
             int& r) const;
  template <typename T>
  void draw(T* image, int cls, float pt, float eta, float phi, RenderStats& stats,
            std::int32_t index = 0) const;
  template <typename T>
  RenderStats batch(std::int64_t n_events, const std::int64_t* offsets, const std::int32_t* type,
                    const float* pt, const float* eta, const float* phi,
                    const std::int32_t* charge, const float* btag, T* out,
                    std::int64_t out_size) const;
  template <typename T>
  RenderStats event(T* image, const Columns& cols) const;
  void record(const RenderStats& stats) const;

  RenderConfig cfg_;
  std::size_t plane_ = 0;
  std::size_t image_size_ = 0;
  int r_max_ = 1;
  // outline_[r] = flat (dx, dy) pairs of the radius-r midpoint circle, unique.
  std::vector<std::vector<std::int32_t>> outline_;
  // Channels each class paints: (channel, value) pairs.
  std::array<std::vector<std::pair<int, std::uint8_t>>, kNumDrawClasses> paint_;
  // Totals for entry point (a); atomics so RDataFrame may run multithreaded.
  mutable std::array<std::atomic<std::int64_t>, 9> event_totals_{};
};

/// Class of an object from the batch layout (type code, charge, b-tag), or -1
/// for an unknown type code.
int draw_class(std::int32_t type, std::int32_t charge, float btag, float btag_threshold);

}  // namespace eventlens

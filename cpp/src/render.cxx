// eventlens: the drawing core behind both entry points (see render.h for the
// geometry, which the numpy reference in eventlens.render.reference mirrors).
#include "eventlens/render.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace eventlens {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kTwoPi = 2.0 * kPi;

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("eventlens::RenderConfig: " + what);
}

// The midpoint (Bresenham) circle of radius r, as unique (dx, dy) offsets.
// The 8-fold symmetric walk visits some pixels twice (on the axes and the
// diagonals); a set keeps each once, so kAdd adds a circle once per pixel.
std::vector<std::int32_t> midpoint_circle(int r) {
  std::set<std::pair<int, int>> pixels;
  int x = r;
  int y = 0;
  int err = 1 - r;
  while (x >= y) {
    const int pts[8][2] = {{x, y}, {y, x}, {-y, x}, {-x, y}, {-x, -y}, {-y, -x}, {y, -x}, {x, -y}};
    for (const auto& p : pts) pixels.emplace(p[0], p[1]);
    ++y;
    if (err < 0) {
      err += 2 * y + 1;
    } else {
      --x;
      err += 2 * (y - x) + 1;
    }
  }
  std::vector<std::int32_t> flat;
  flat.reserve(2 * pixels.size());
  for (const auto& [dx, dy] : pixels) {
    flat.push_back(dx);
    flat.push_back(dy);
  }
  return flat;
}

template <typename T>
constexpr T full_scale();
template <>
constexpr std::uint8_t full_scale<std::uint8_t>() {
  return 255;
}
template <>
constexpr float full_scale<float>() {
  return 1.0f;
}

template <typename T>
T pixel_value(std::uint8_t v) {
  if constexpr (std::is_same_v<T, std::int32_t>) {
    return 0;  // object-index maps start empty whatever the background
  } else if constexpr (std::is_same_v<T, float>) {
    return static_cast<float>(v) / 255.0f;
  } else {
    return v;
  }
}

template <typename T>
T saturating_add(T a, T b) {
  if constexpr (std::is_same_v<T, float>) {
    return std::min(a + b, 1.0f);
  } else {
    const int s = static_cast<int>(a) + static_cast<int>(b);
    return static_cast<T>(std::min(s, 255));
  }
}

}  // namespace

void RenderConfig::set_colour(int cls, int channel, int value) {
  require(cls >= 0 && cls < kNumDrawClasses, "draw class " + std::to_string(cls) + " out of range");
  require(channel >= 0 && channel < kMaxChannels,
          "channel " + std::to_string(channel) + " out of range [0, 16)");
  require(value >= 0 && value <= 255, "colour value " + std::to_string(value) + " not in [0, 255]");
  colour[static_cast<std::size_t>(cls)][static_cast<std::size_t>(channel)] =
      static_cast<std::uint8_t>(value);
}

void RenderConfig::set_draw(int cls, bool on) {
  require(cls >= 0 && cls < kNumDrawClasses, "draw class " + std::to_string(cls) + " out of range");
  draw[static_cast<std::size_t>(cls)] = on ? 1 : 0;
}

void RenderConfig::set_background(int channel, int value) {
  require(channel >= 0 && channel < kMaxChannels,
          "channel " + std::to_string(channel) + " out of range [0, 16)");
  require(value >= 0 && value <= 255, "background value " + std::to_string(value) + " not in [0, 255]");
  background[static_cast<std::size_t>(channel)] = static_cast<std::uint8_t>(value);
}

RenderStats& RenderStats::operator+=(const RenderStats& o) {
  events += o.events;
  objects += o.objects;
  drawn += o.drawn;
  bad_value += o.bad_value;
  eta_outside += o.eta_outside;
  not_drawn += o.not_drawn;
  unknown_type += o.unknown_type;
  eta_clamped += o.eta_clamped;
  radius_clamped += o.radius_clamped;
  return *this;
}

int draw_class(std::int32_t type, std::int32_t charge, float btag, float btag_threshold) {
  switch (type) {
    case kElectron:
      return kClsElectron;
    case kMuon:
      return charge < 0 ? kClsMuonNeg : kClsMuonPos;
    case kPhoton:
      return kClsPhoton;
    case kJet:
      return btag >= btag_threshold ? kClsBJet : kClsLightJet;
    case kMET:
      return kClsMET;
    default:
      return -1;
  }
}

Renderer::Renderer(const RenderConfig& config) : cfg_(config) {
  require(cfg_.channels >= 1 && cfg_.channels <= kMaxChannels,
          "channels = " + std::to_string(cfg_.channels) + ", must be in [1, 16]");
  require(cfg_.height >= 4 && cfg_.width >= 4,
          "canvas " + std::to_string(cfg_.height) + "x" + std::to_string(cfg_.width) +
              " too small (need at least 4x4)");
  require(cfg_.height <= 4096 && cfg_.width <= 4096, "canvas larger than 4096x4096");
  require(std::isfinite(cfg_.eta_min) && std::isfinite(cfg_.eta_max) && cfg_.eta_min < cfg_.eta_max,
          "eta range must be finite with eta_min < eta_max");
  require(std::isfinite(cfg_.radius_scale) && cfg_.radius_scale > 0.0,
          "radius_scale (C) must be a positive number");
  require(std::isfinite(cfg_.btag_threshold), "btag_threshold must be finite");
  require(cfg_.overlap == Overlap::kMax || cfg_.overlap == Overlap::kAdd ||
              cfg_.overlap == Overlap::kOver,
          "unknown overlap rule");
  require(cfg_.eta_policy == EtaPolicy::kSkip || cfg_.eta_policy == EtaPolicy::kClamp,
          "unknown eta policy");

  const auto h = static_cast<std::size_t>(cfg_.height);
  const auto w = static_cast<std::size_t>(cfg_.width);
  plane_ = h * w;
  image_size_ = plane_ * static_cast<std::size_t>(cfg_.channels);
  r_max_ = std::max(1, std::min(cfg_.height, cfg_.width) / 2 - 1);
  outline_.resize(static_cast<std::size_t>(r_max_) + 1);
  for (int r = 1; r <= r_max_; ++r) outline_[static_cast<std::size_t>(r)] = midpoint_circle(r);

  for (int cls = 0; cls < kNumDrawClasses; ++cls) {
    const auto c = static_cast<std::size_t>(cls);
    for (int k = 0; k < cfg_.channels; ++k) {
      const std::uint8_t v = cfg_.colour[c][static_cast<std::size_t>(k)];
      // kOver paints every channel (a black outline must cover white); the
      // other rules leave a channel untouched when the colour is zero there.
      if (v != 0 || cfg_.overlap == Overlap::kOver) paint_[c].emplace_back(k, v);
    }
  }
  for (auto& t : event_totals_) t.store(0);
}

std::vector<std::int32_t> Renderer::outline(int r) const {
  if (r < 1 || r > r_max_) {
    throw std::invalid_argument("eventlens::Renderer::outline: radius " + std::to_string(r) +
                                " not in [1, " + std::to_string(r_max_) + "]");
  }
  return outline_[static_cast<std::size_t>(r)];
}

template <typename T>
void Renderer::clear(T* image) const {
  for (int k = 0; k < cfg_.channels; ++k) {
    const T v = pixel_value<T>(cfg_.background[static_cast<std::size_t>(k)]);
    std::fill_n(image + static_cast<std::size_t>(k) * plane_, plane_, v);
  }
}

bool Renderer::place(int cls, float pt_f, float eta_f, float phi_f, RenderStats& stats, int& cx,
                     int& cy, int& r) const {
  ++stats.objects;
  if (cls < 0) {
    ++stats.unknown_type;
    return false;
  }
  const bool is_met = cls == kClsMET;
  const double pt = pt_f;
  double eta = is_met ? 0.0 : static_cast<double>(eta_f);
  const double phi = phi_f;
  if (!std::isfinite(pt) || !std::isfinite(eta) || !std::isfinite(phi) || !(pt > 0.0)) {
    ++stats.bad_value;
    return false;
  }
  if (!cfg_.draw[static_cast<std::size_t>(cls)]) {
    ++stats.not_drawn;
    return false;
  }
  if (eta < cfg_.eta_min || eta > cfg_.eta_max) {
    if (cfg_.eta_policy == EtaPolicy::kSkip) {
      ++stats.eta_outside;
      return false;
    }
    eta = std::clamp(eta, cfg_.eta_min, cfg_.eta_max);
    ++stats.eta_clamped;
  }
  const int W = cfg_.width;
  const int H = cfg_.height;
  // Each step is its own statement so no compiler fuses a*b+c into an FMA:
  // the numpy reference must be able to reproduce every rounding.
  const double xs = (eta - cfg_.eta_min) / (cfg_.eta_max - cfg_.eta_min);
  const double xf = xs * W;
  cx = std::min(static_cast<int>(std::floor(xf)), W - 1);
  double p = std::fmod(phi + kPi, kTwoPi);
  if (p < 0.0) p += kTwoPi;
  const double ys = p / kTwoPi;
  const double yf = ys * H;
  cy = std::clamp(static_cast<int>(std::floor(yf)), 0, H - 1);
  const double rf = cfg_.radius_scale * std::log(pt);
  const double rh = rf + 0.5;
  r = static_cast<int>(std::max(std::floor(rh), 1.0));
  if (r > r_max_) {
    r = r_max_;
    ++stats.radius_clamped;
  }
  ++stats.drawn;
  return true;
}

template <typename T>
void Renderer::draw(T* image, int cls, float pt_f, float eta_f, float phi_f, RenderStats& stats,
                    std::int32_t index) const {
  int cx = 0;
  int cy = 0;
  int r = 0;
  if (!place(cls, pt_f, eta_f, phi_f, stats, cx, cy, r)) return;
  const int W = cfg_.width;
  const int H = cfg_.height;
  const auto& offsets = outline_[static_cast<std::size_t>(r)];
  const auto& paint = paint_[static_cast<std::size_t>(cls)];
  const std::size_t n = offsets.size();
  for (std::size_t i = 0; i < n; i += 2) {
    const int x = cx + offsets[i];
    if (x < 0 || x >= W) continue;
    int y = cy + offsets[i + 1];
    if (y < 0) {
      y += H;
    } else if (y >= H) {
      y -= H;
    }
    const std::size_t pix = static_cast<std::size_t>(y) * static_cast<std::size_t>(W) +
                            static_cast<std::size_t>(x);
    for (const auto& [k, v] : paint) {
      T& dst = image[static_cast<std::size_t>(k) * plane_ + pix];
      if constexpr (std::is_same_v<T, std::int32_t>) {
        dst = index;  // every channel the object paints; the object drawn last wins
        continue;
      }
      const T val = pixel_value<T>(v);
      switch (cfg_.overlap) {
        case Overlap::kMax:
          dst = std::max(dst, val);
          break;
        case Overlap::kAdd:
          dst = saturating_add<T>(dst, val);
          break;
        case Overlap::kOver:
          dst = val;
          break;
      }
    }
  }
}

template <typename T>
RenderStats Renderer::batch(std::int64_t n_events, const std::int64_t* offsets,
                            const std::int32_t* type, const float* pt, const float* eta,
                            const float* phi, const std::int32_t* charge, const float* btag,
                            T* out, std::int64_t out_size) const {
  if (n_events < 0) throw std::invalid_argument("eventlens: n_events < 0");
  const auto expected = static_cast<std::int64_t>(image_size_) * n_events;
  if (out_size != expected) {
    throw std::invalid_argument("eventlens: output buffer holds " + std::to_string(out_size) +
                                " values, (N, C, H, W) needs " + std::to_string(expected));
  }
  RenderStats stats;
  if (n_events == 0) return stats;
  if (offsets == nullptr || out == nullptr) throw std::invalid_argument("eventlens: null pointer");
  for (std::int64_t e = 0; e < n_events; ++e) {
    if (offsets[e + 1] < offsets[e]) {
      throw std::invalid_argument("eventlens: offsets decrease at event " + std::to_string(e));
    }
  }
  const bool any_objects = offsets[n_events] > offsets[0];
  if (any_objects && (type == nullptr || pt == nullptr || eta == nullptr || phi == nullptr)) {
    throw std::invalid_argument("eventlens: type/pt/eta/phi arrays must not be null");
  }
  for (std::int64_t e = 0; e < n_events; ++e) {
    T* image = out + static_cast<std::size_t>(e) * image_size_;
    clear(image);
    for (std::int64_t i = offsets[e]; i < offsets[e + 1]; ++i) {
      const int cls = draw_class(type[i], charge ? charge[i] : 1, btag ? btag[i] : 0.0f,
                                 cfg_.btag_threshold);
      draw(image, cls, pt[i], eta[i], phi[i], stats,
           static_cast<std::int32_t>(i - offsets[e] + 1));
    }
  }
  stats.events = n_events;
  return stats;
}

RenderStats Renderer::render_batch_u8(std::int64_t n_events, const std::int64_t* offsets,
                                      const std::int32_t* type, const float* pt,
                                      const float* eta, const float* phi,
                                      const std::int32_t* charge, const float* btag,
                                      std::uint8_t* out, std::int64_t out_size) const {
  return batch(n_events, offsets, type, pt, eta, phi, charge, btag, out, out_size);
}

RenderStats Renderer::render_batch_f32(std::int64_t n_events, const std::int64_t* offsets,
                                       const std::int32_t* type, const float* pt,
                                       const float* eta, const float* phi,
                                       const std::int32_t* charge, const float* btag,
                                       float* out, std::int64_t out_size) const {
  return batch(n_events, offsets, type, pt, eta, phi, charge, btag, out, out_size);
}

RenderStats Renderer::render_batch_index(std::int64_t n_events, const std::int64_t* offsets,
                                         const std::int32_t* type, const float* pt,
                                         const float* eta, const float* phi,
                                         const std::int32_t* charge, const float* btag,
                                         std::int32_t* out, std::int64_t out_size) const {
  return batch(n_events, offsets, type, pt, eta, phi, charge, btag, out, out_size);
}

RenderStats Renderer::render_batch_geometry(std::int64_t n_events, const std::int64_t* offsets,
                                            const std::int32_t* type, const float* pt,
                                            const float* eta, const float* phi,
                                            const std::int32_t* charge, const float* btag,
                                            std::int32_t* out, std::int64_t out_size) const {
  if (n_events < 0) throw std::invalid_argument("eventlens: n_events < 0");
  RenderStats stats;
  if (n_events == 0) return stats;
  if (offsets == nullptr) throw std::invalid_argument("eventlens: null pointer");
  for (std::int64_t e = 0; e < n_events; ++e) {
    if (offsets[e + 1] < offsets[e]) {
      throw std::invalid_argument("eventlens: offsets decrease at event " + std::to_string(e));
    }
  }
  const std::int64_t first = offsets[0];
  const std::int64_t n_objects = offsets[n_events] - first;
  if (out_size != 4 * n_objects) {
    throw std::invalid_argument("eventlens: geometry buffer holds " + std::to_string(out_size) +
                                " values, 4 per object needs " + std::to_string(4 * n_objects));
  }
  if (n_objects == 0) {
    stats.events = n_events;
    return stats;
  }
  if (out == nullptr || type == nullptr || pt == nullptr || eta == nullptr || phi == nullptr) {
    throw std::invalid_argument("eventlens: type/pt/eta/phi/out arrays must not be null");
  }
  for (std::int64_t i = first; i < offsets[n_events]; ++i) {
    const int cls = draw_class(type[i], charge ? charge[i] : 1, btag ? btag[i] : 0.0f,
                               cfg_.btag_threshold);
    int cx = 0;
    int cy = 0;
    int r = 0;
    std::int32_t* row = out + 4 * (i - first);
    if (place(cls, pt[i], eta[i], phi[i], stats, cx, cy, r)) {
      row[0] = cls;
      row[1] = cx;
      row[2] = cy;
      row[3] = r;
    } else {
      row[0] = -1;
      row[1] = row[2] = row[3] = 0;
    }
  }
  stats.events = n_events;
  return stats;
}

// ---- (a) per event --------------------------------------------------------

struct Renderer::Columns {
  const RVecF& el_pt;
  const RVecF& el_eta;
  const RVecF& el_phi;
  const RVecF& mu_pt;
  const RVecF& mu_eta;
  const RVecF& mu_phi;
  const RVecI& mu_charge;
  const RVecF& ph_pt;
  const RVecF& ph_eta;
  const RVecF& ph_phi;
  const RVecF& jet_pt;
  const RVecF& jet_eta;
  const RVecF& jet_phi;
  const RVecF& jet_btag;
  float met_pt;
  float met_phi;
};

namespace {
void check_sizes(const char* what, std::size_t n, std::initializer_list<std::size_t> others) {
  for (std::size_t m : others) {
    if (m != n) {
      throw std::invalid_argument(std::string("eventlens: ") + what +
                                  " columns have different lengths in one event (" +
                                  std::to_string(n) + " vs " + std::to_string(m) + ")");
    }
  }
}
}  // namespace

template <typename T>
RenderStats Renderer::event(T* image, const Columns& c) const {
  check_sizes("electron", c.el_pt.size(), {c.el_eta.size(), c.el_phi.size()});
  check_sizes("muon", c.mu_pt.size(), {c.mu_eta.size(), c.mu_phi.size(), c.mu_charge.size()});
  check_sizes("photon", c.ph_pt.size(), {c.ph_eta.size(), c.ph_phi.size()});
  check_sizes("jet", c.jet_pt.size(), {c.jet_eta.size(), c.jet_phi.size(), c.jet_btag.size()});
  RenderStats stats;
  clear(image);
  for (std::size_t i = 0; i < c.el_pt.size(); ++i)
    draw(image, kClsElectron, c.el_pt[i], c.el_eta[i], c.el_phi[i], stats);
  for (std::size_t i = 0; i < c.mu_pt.size(); ++i)
    draw(image, draw_class(kMuon, c.mu_charge[i], 0.0f, cfg_.btag_threshold), c.mu_pt[i],
         c.mu_eta[i], c.mu_phi[i], stats);
  for (std::size_t i = 0; i < c.ph_pt.size(); ++i)
    draw(image, kClsPhoton, c.ph_pt[i], c.ph_eta[i], c.ph_phi[i], stats);
  for (std::size_t i = 0; i < c.jet_pt.size(); ++i)
    draw(image, draw_class(kJet, 0, c.jet_btag[i], cfg_.btag_threshold), c.jet_pt[i],
         c.jet_eta[i], c.jet_phi[i], stats);
  draw(image, kClsMET, c.met_pt, 0.0f, c.met_phi, stats);
  stats.events = 1;
  record(stats);
  return stats;
}

void Renderer::record(const RenderStats& s) const {
  const std::int64_t v[9] = {s.events,      s.objects,      s.drawn,
                             s.bad_value,   s.eta_outside,  s.not_drawn,
                             s.unknown_type, s.eta_clamped, s.radius_clamped};
  for (std::size_t i = 0; i < 9; ++i) {
    if (v[i] != 0) event_totals_[i].fetch_add(v[i], std::memory_order_relaxed);
  }
}

RenderStats Renderer::event_stats() const {
  RenderStats s;
  s.events = event_totals_[0].load();
  s.objects = event_totals_[1].load();
  s.drawn = event_totals_[2].load();
  s.bad_value = event_totals_[3].load();
  s.eta_outside = event_totals_[4].load();
  s.not_drawn = event_totals_[5].load();
  s.unknown_type = event_totals_[6].load();
  s.eta_clamped = event_totals_[7].load();
  s.radius_clamped = event_totals_[8].load();
  return s;
}

void Renderer::reset_event_stats() {
  for (auto& t : event_totals_) t.store(0);
}

#define EVENTLENS_COLUMN_PARAMS                                                           \
  const RVecF &el_pt, const RVecF &el_eta, const RVecF &el_phi, const RVecF &mu_pt,       \
      const RVecF &mu_eta, const RVecF &mu_phi, const RVecI &mu_charge, const RVecF &ph_pt, \
      const RVecF &ph_eta, const RVecF &ph_phi, const RVecF &jet_pt, const RVecF &jet_eta,  \
      const RVecF &jet_phi, const RVecF &jet_btag, float met_pt, float met_phi
#define EVENTLENS_COLUMNS                                                                  \
  Columns {                                                                                \
    el_pt, el_eta, el_phi, mu_pt, mu_eta, mu_phi, mu_charge, ph_pt, ph_eta, ph_phi, jet_pt, \
        jet_eta, jet_phi, jet_btag, met_pt, met_phi                                        \
  }

ROOT::RVec<std::uint8_t> Renderer::event_u8(EVENTLENS_COLUMN_PARAMS) const {
  ROOT::RVec<std::uint8_t> image(image_size_);
  event(image.data(), EVENTLENS_COLUMNS);
  return image;
}

ROOT::RVec<float> Renderer::event_f32(EVENTLENS_COLUMN_PARAMS) const {
  ROOT::RVec<float> image(image_size_);
  event(image.data(), EVENTLENS_COLUMNS);
  return image;
}

namespace {
void check_row(std::uintptr_t buffer, std::uint64_t n_rows, std::uint64_t row) {
  if (buffer == 0) throw std::invalid_argument("eventlens: null image buffer");
  if (row >= n_rows) {
    throw std::out_of_range("eventlens: row " + std::to_string(row) + " outside a buffer of " +
                            std::to_string(n_rows) + " images");
  }
}
}  // namespace

std::int64_t Renderer::event_into_u8(std::uintptr_t buffer, std::uint64_t n_rows,
                                     std::uint64_t row, EVENTLENS_COLUMN_PARAMS) const {
  check_row(buffer, n_rows, row);
  auto* image = reinterpret_cast<std::uint8_t*>(buffer) + row * image_size_;
  return event(image, EVENTLENS_COLUMNS).drawn;
}

std::int64_t Renderer::event_into_f32(std::uintptr_t buffer, std::uint64_t n_rows,
                                      std::uint64_t row, EVENTLENS_COLUMN_PARAMS) const {
  check_row(buffer, n_rows, row);
  auto* image = reinterpret_cast<float*>(buffer) + row * image_size_;
  return event(image, EVENTLENS_COLUMNS).drawn;
}

#undef EVENTLENS_COLUMN_PARAMS
#undef EVENTLENS_COLUMNS

}  // namespace eventlens

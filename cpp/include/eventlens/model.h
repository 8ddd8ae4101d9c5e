// eventlens: run an exported eventlens model (ONNX + model card) from C++.
//
//   eventlens::Model model("onnx_models/dtw_compact_cnn.onnx");   // + dtw_compact_cnn.json
//   model.classes();          // {"dy", "wjets", "ttbar"}
//   model.renderer();         // draws exactly as in training (render config from the card)
//   model.predict_proba(images, n, probs, slot);   // (n, C, H, W) float32 -> (n, K)
//
// What the constructor checks (each failure is an eventlens::ModelError whose
// message names the file and the values): the card exists, is JSON and an
// eventlens card; the .onnx exists and its SHA-256 is the one the card
// records; the card's render config is valid and its digest is the recorded
// one; the ONNX input is float32 of shape (batch, C, H, W) with (C, H, W) the
// render config's (image models) or the card's input shape (table models);
// the ONNX model has a "probabilities" output of shape (batch, K), K = the
// number of classes.
//
// Threads.  A Model holds one ONNX Runtime session per *slot* (ModelOptions::slots,
// default: ROOT's thread-pool size when implicit multithreading is on, else 1),
// created on first use.  Calls with distinct slots may run concurrently; calls
// with the same slot must not -- exactly the RDataFrame contract for the `slot`
// argument of DefineSlot/ForeachSlot.  Everything else (classes(), renderer(),
// card_json(), ...) is read-only and thread-safe.  Each session uses
// ModelOptions::intra_op_threads threads (default 1: RDataFrame already runs one
// task per core).
//
// BatchPredictor collects events per slot and runs the model on batches, so
// that RDataFrame's per-event callbacks get ONNX Runtime's batched speed.
//
// Model support is a separate library (EventLens::model) because it links ONNX
// Runtime; the renderer (EventLens::eventlens) does not need it.
#pragma once

#include <eventlens/render.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace eventlens {

/// A model or its card cannot be used (missing, corrupt, inconsistent, or misused).
class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ModelOptions {
  /// The model card; empty: the .onnx path with the extension .json.
  std::string card;
  /// Sessions (and so concurrent callers) the model serves; 0: ROOT's thread-pool
  /// size when ROOT::EnableImplicitMT() was called before, else 1.  Pass
  /// df.GetNSlots() to be exact.
  unsigned slots = 0;
  /// ONNX Runtime intra-op threads per session.
  int intra_op_threads = 1;
};

class Model {
 public:
  /// Loads and checks the card and the .onnx (see the file comment); creates the
  /// session of slot 0 to check the model's input and output.
  explicit Model(const std::string& onnx_path, const ModelOptions& options = {});
  ~Model();
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const std::string& name() const;
  const std::string& task() const;
  const std::string& onnx_path() const;
  const std::string& card_path() const;
  /// Class names, in the order of the probabilities.
  const std::vector<std::string>& classes() const;
  std::size_t n_classes() const;
  /// "image" or "table".
  const std::string& input_kind() const;
  bool is_image() const;
  /// Shape of one event's input: (C, H, W) for images, (F) for tables.
  const std::vector<std::int64_t>& input_shape() const;
  /// Floats per event (the product of input_shape()).
  std::size_t input_size() const;
  unsigned slots() const;

  /// The card's render config, as the C++ renderer takes it (ModelError for table models).
  const RenderConfig& render_config() const;
  /// A renderer with that config (thread-safe: it only reads its config).
  const Renderer& renderer() const;

  /// Part of the card as JSON text, by JSON pointer ("" = the whole card), e.g.
  /// card_json("/selection/config") for the selection cuts the model was trained
  /// on.  Parse it with <nlohmann/json.hpp> (shipped with ROOT).
  std::string card_json(const std::string& json_pointer = "") const;

  /// Draw one event into `image` (input_size() floats) with renderer(), as the
  /// model expects it (float32 in [0, 1]).  Columns as Renderer::event_f32.
  void render(float* image, const ROOT::RVecF& el_pt, const ROOT::RVecF& el_eta,
              const ROOT::RVecF& el_phi, const ROOT::RVecF& mu_pt, const ROOT::RVecF& mu_eta,
              const ROOT::RVecF& mu_phi, const ROOT::RVecI& mu_charge, const ROOT::RVecF& ph_pt,
              const ROOT::RVecF& ph_eta, const ROOT::RVecF& ph_phi, const ROOT::RVecF& jet_pt,
              const ROOT::RVecF& jet_eta, const ROOT::RVecF& jet_phi,
              const ROOT::RVecF& jet_btag, float met_pt, float met_phi) const;

  /// Class probabilities of `n` events: `inputs` holds n * input_size() floats
  /// (row-major, (n, C, H, W) for images), `probabilities` receives n * n_classes().
  /// One ONNX Runtime run on the session of `slot`.
  void predict_proba(const float* inputs, std::size_t n, float* probabilities,
                     unsigned slot = 0) const;
  std::vector<float> predict_proba(const std::vector<float>& inputs, unsigned slot = 0) const;
  /// One event (e.g. a column from Renderer::event_f32 in DefineSlot): its K probabilities.
  /// Batch size 1 costs ONNX Runtime's per-call overhead every event; measured here at one
  /// thread per event vs batches of 1024 (BatchPredictor): dtw_compact_cnn 1.1x,
  /// dhjw_compact_cnn 0.95x, the table model dtw_ffn 3.0x.
  ROOT::RVecF predict_proba(unsigned slot, const ROOT::RVecF& input) const;

  /// Index of the largest probability (the predicted class); the first one on ties.
  static std::size_t argmax(const float* probabilities, std::size_t n_classes);
  /// Version of the ONNX Runtime library in use (e.g. "1.31.1").
  static std::string onnxruntime_version();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Batched inference from per-event callbacks.  Per slot, `add` stores the
/// event's input (drawn in place by the caller) and a payload; every
/// `batch_size` events of a slot the model runs once and `on_result(slot,
/// payload, probabilities)` is called for each of them, on that slot's thread.
/// After the event loop, `flush()` runs the incomplete batches (from one thread).
///
///   eventlens::BatchPredictor<Ids> batches(model, 512, [&](unsigned slot, const Ids& ids,
///                                                          const float* p) { ... });
///   df.ForeachSlot([&](unsigned slot, ...) {
///     batches.add(slot, Ids{run, event}, [&](float* image) { model.render(image, ...); });
///   }, {...});
///   batches.flush();
///
/// on_result must be safe to call concurrently for distinct slots (fill
/// per-slot histograms, or lock).
template <typename Payload>
class BatchPredictor {
 public:
  using Callback = std::function<void(unsigned slot, const Payload&, const float* probabilities)>;

  BatchPredictor(const Model& model, std::size_t batch_size, Callback on_result)
      : model_(model), batch_size_(batch_size), on_result_(std::move(on_result)),
        slots_(model.slots()) {
    if (batch_size_ == 0) throw ModelError("eventlens::BatchPredictor: batch_size must be >= 1");
    for (auto& s : slots_) {
      s.inputs.resize(batch_size_ * model_.input_size());
      s.probabilities.resize(batch_size_ * model_.n_classes());
      s.payloads.reserve(batch_size_);
    }
  }

  /// Stores one event: `fill(float* input)` writes its input_size() floats.
  template <typename Fill>
  void add(unsigned slot, Payload payload, Fill&& fill) {
    Slot& s = at(slot);
    fill(s.inputs.data() + s.payloads.size() * model_.input_size());
    s.payloads.push_back(std::move(payload));
    if (s.payloads.size() == batch_size_) run(slot, s);
  }

  /// Runs every slot's pending events (call once the event loop is over).
  void flush() {
    for (unsigned slot = 0; slot < slots_.size(); ++slot) run(slot, slots_[slot]);
  }

  /// Events handed to on_result so far (all slots; read after flush()).
  std::size_t n_done() const {
    std::size_t n = 0;
    for (const auto& s : slots_) n += s.done;
    return n;
  }

 private:
  struct alignas(64) Slot {  // one cache line each: slots are written by different threads
    std::vector<float> inputs;
    std::vector<float> probabilities;
    std::vector<Payload> payloads;
    std::size_t done = 0;
  };

  Slot& at(unsigned slot) {
    if (slot >= slots_.size()) {
      throw ModelError("eventlens::BatchPredictor: slot " + std::to_string(slot) +
                       " but the model serves " + std::to_string(slots_.size()) +
                       " slots (ModelOptions::slots = df.GetNSlots())");
    }
    return slots_[slot];
  }

  void run(unsigned slot, Slot& s) {
    const std::size_t n = s.payloads.size();
    if (n == 0) return;
    model_.predict_proba(s.inputs.data(), n, s.probabilities.data(), slot);
    const std::size_t k = model_.n_classes();
    for (std::size_t i = 0; i < n; ++i) {
      on_result_(slot, s.payloads[i], s.probabilities.data() + i * k);
    }
    s.done += n;
    s.payloads.clear();
  }

  const Model& model_;
  std::size_t batch_size_;
  Callback on_result_;
  std::vector<Slot> slots_;
};

}  // namespace eventlens

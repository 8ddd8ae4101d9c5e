// eventlens::Model: an exported model (ONNX + card) in ONNX Runtime's C++ API.
// See eventlens/model.h for what is checked and the threading contract.
#include "eventlens/model.h"

#include <onnxruntime_cxx_api.h>

#include <TROOT.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

namespace eventlens {
namespace {

using json = nlohmann::json;

constexpr const char* kCardFormat = "eventlens-model-card/1";
constexpr const char* kProbabilities = "probabilities";

[[noreturn]] void fail(const std::string& what) { throw ModelError("eventlens::Model: " + what); }

std::string read_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(what + " " + path + " does not exist or cannot be read");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string card_path_for(const std::string& onnx) {
  const auto slash = onnx.find_last_of('/');
  const auto dot = onnx.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) {
    return onnx + ".json";
  }
  return onnx.substr(0, dot) + ".json";
}

// ---- SHA-256 (FIPS 180-4), for the card's onnx.sha256 ----------------------------------------
class Sha256 {
 public:
  std::string hex(const std::string& data) {
    std::uint64_t bits = static_cast<std::uint64_t>(data.size()) * 8u;
    std::size_t i = 0;
    const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
    for (; i + 64 <= data.size(); i += 64) block(bytes + i);
    unsigned char tail[128] = {};
    const std::size_t rest = data.size() - i;
    std::memcpy(tail, data.data() + i, rest);
    tail[rest] = 0x80;
    const std::size_t len = rest + 1 + 8 <= 64 ? 64 : 128;
    for (std::size_t k = 0; k < 8; ++k) {
      tail[len - 1 - k] = static_cast<unsigned char>(bits >> (8 * k));
    }
    block(tail);
    if (len == 128) block(tail + 64);
    std::ostringstream out;
    for (std::uint32_t v : h_) out << std::hex << std::setw(8) << std::setfill('0') << v;
    return out.str();
  }

 private:
  static std::uint32_t rotr(std::uint32_t x, unsigned n) { return (x >> n) | (x << (32u - n)); }

  void block(const unsigned char* p) {
    static constexpr std::array<std::uint32_t, 64> k = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};
    std::array<std::uint32_t, 64> w{};
    for (std::size_t t = 0; t < 16; ++t) {
      w[t] = 0;
      for (std::size_t b = 0; b < 4; ++b) w[t] = w[t] << 8 | p[4 * t + b];  // big-endian words
    }
    for (std::size_t t = 16; t < 64; ++t) {
      const std::uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
      const std::uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
      w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    std::array<std::uint32_t, 8> v = h_;
    for (std::size_t t = 0; t < 64; ++t) {
      const std::uint32_t s1 = rotr(v[4], 6) ^ rotr(v[4], 11) ^ rotr(v[4], 25);
      const std::uint32_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
      const std::uint32_t t1 = v[7] + s1 + ch + k[t] + w[t];
      const std::uint32_t s0 = rotr(v[0], 2) ^ rotr(v[0], 13) ^ rotr(v[0], 22);
      const std::uint32_t maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
      const std::uint32_t t2 = s0 + maj;
      v = {t1 + t2, v[0], v[1], v[2], v[3] + t1, v[4], v[5], v[6]};
    }
    for (std::size_t j = 0; j < 8; ++j) h_[j] += v[j];
  }

  std::array<std::uint32_t, 8> h_ = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
};

// ---- the card's render config (mirrors eventlens.render.config.RenderConfig) ---------------
// Draw classes in the order of eventlens::DrawClass, with the channels each may go to
// (first present wins), as RenderConfig._channel_of does.
const std::array<std::vector<std::string>, kNumDrawClasses> kChannelOf = {{
    {"electron"},
    {"muon+", "muon"},
    {"muon-", "muon"},
    {"photon"},
    {"jet"},
    {"bjet", "jet"},
    {"met"},
}};
const std::set<std::string> kKnownChannels = {"electron", "muon", "muon+", "muon-",
                                              "photon",   "jet",  "bjet",  "met"};
// RGB colours of the seed picture (eventlens.render.config.SEED_COLOURS), by draw class.
const std::array<std::array<int, 3>, kNumDrawClasses> kSeedColours = {{
    {0, 0, 255},      // electron: blue
    {0, 128, 0},      // muon+: green
    {0, 128, 0},      // muon-
    {255, 165, 0},    // photon: orange
    {255, 128, 128},  // jet: light red
    {139, 0, 0},      // b-jet: dark red
    {0, 0, 0},        // MET: black
}};
constexpr double kSeedRadiusScale = 10.5;
constexpr int kSeedCanvas = 224;

std::string sha256_of_text(const std::string& text) { return Sha256().hex(text); }

// The card's render_config, completed with Python's defaults and validated like
// RenderConfig.__post_init__; `normalised` receives RenderConfig.to_dict(), whose
// compact sorted JSON is what the card's render_config_digest hashes.
RenderConfig render_config_from_card(const json& rc, const std::string& where, json& normalised) {
  if (!rc.is_object()) fail(where + ": render_config is not a JSON object");
  static const std::set<std::string> known = {"height",  "width",        "channels",
                                              "style",   "eta_range",    "radius_scale",
                                              "btag_threshold", "overlap", "eta_policy", "dtype"};
  for (const auto& item : rc.items()) {
    if (!known.count(item.key())) fail(where + ": unknown render_config key '" + item.key() + "'");
  }
  try {
    const std::string style = rc.value("style", std::string("channels"));
    const bool seed = style == "seed_rgb";
    if (style != "channels" && !seed) fail(where + ": render_config style '" + style + "' unknown");
    const int height = rc.value("height", seed ? kSeedCanvas : 64);
    const int width = rc.value("width", seed ? kSeedCanvas : 64);
    std::vector<std::string> channels =
        rc.value("channels", seed ? std::vector<std::string>{"r", "g", "b"}
                                  : std::vector<std::string>{"electron", "muon", "photon", "jet",
                                                             "bjet", "met"});
    std::vector<double> eta_range = rc.value("eta_range", std::vector<double>{-3.0, 3.0});
    const std::string overlap = rc.value("overlap", std::string(seed ? "over" : "max"));
    const std::string eta_policy = rc.value("eta_policy", std::string("skip"));
    const std::string dtype = rc.value("dtype", std::string(seed ? "uint8" : "float32"));
    const double btag = rc.value("btag_threshold", 0.2783);
    double radius = 0.0;
    if (rc.contains("radius_scale") && !rc["radius_scale"].is_null()) {
      radius = rc["radius_scale"].get<double>();
    } else if (seed) {
      radius = kSeedRadiusScale;
    } else {
      radius = kSeedRadiusScale * std::min(height, width) / kSeedCanvas;
    }

    if (height < 4 || height > 4096 || width < 4 || width > 4096) {
      fail(where + ": render_config canvas " + std::to_string(height) + "x" +
           std::to_string(width) + " not in [4, 4096]");
    }
    if (channels.empty() || channels.size() > static_cast<std::size_t>(kMaxChannels)) {
      fail(where + ": render_config has " + std::to_string(channels.size()) +
           " channels, must be 1 to 16");
    }
    if (std::set<std::string>(channels.begin(), channels.end()).size() != channels.size()) {
      fail(where + ": render_config repeats a channel name");
    }
    if (seed && channels != std::vector<std::string>{"r", "g", "b"}) {
      fail(where + ": seed_rgb style needs channels [r, g, b]");
    }
    if (!seed) {
      for (const auto& c : channels) {
        if (!kKnownChannels.count(c)) fail(where + ": render_config channel '" + c + "' unknown");
      }
    }
    if (eta_range.size() != 2 || !(eta_range[0] < eta_range[1])) {
      fail(where + ": render_config eta_range must be [min, max] with min < max");
    }
    if (!(radius > 0.0)) fail(where + ": render_config radius_scale must be > 0");
    if (overlap != "max" && overlap != "add" && overlap != "over") {
      fail(where + ": render_config overlap '" + overlap + "' must be max, add or over");
    }
    if (eta_policy != "skip" && eta_policy != "clamp") {
      fail(where + ": render_config eta_policy '" + eta_policy + "' must be skip or clamp");
    }
    if (dtype != "float32" && dtype != "uint8") {
      fail(where + ": render_config dtype '" + dtype + "' must be float32 or uint8");
    }

    RenderConfig cfg;
    cfg.channels = static_cast<std::int32_t>(channels.size());
    cfg.height = height;
    cfg.width = width;
    cfg.eta_min = eta_range[0];
    cfg.eta_max = eta_range[1];
    cfg.radius_scale = radius;
    cfg.btag_threshold = static_cast<float>(btag);
    cfg.overlap = overlap == "max"   ? Overlap::kMax
                  : overlap == "add" ? Overlap::kAdd
                                     : Overlap::kOver;
    cfg.eta_policy = eta_policy == "skip" ? EtaPolicy::kSkip : EtaPolicy::kClamp;
    for (int cls = 0; cls < kNumDrawClasses; ++cls) {
      const auto c = static_cast<std::size_t>(cls);
      if (seed) {
        cfg.set_draw(cls, true);
        for (std::size_t k = 0; k < 3; ++k) {
          cfg.set_colour(cls, static_cast<int>(k), kSeedColours[c][k]);
        }
        continue;
      }
      int channel = -1;
      for (const auto& name : kChannelOf[c]) {
        const auto it = std::find(channels.begin(), channels.end(), name);
        if (it != channels.end()) {
          channel = static_cast<int>(it - channels.begin());
          break;
        }
      }
      cfg.set_draw(cls, channel >= 0);
      if (channel >= 0) cfg.set_colour(cls, channel, 255);
    }
    for (int k = 0; k < cfg.channels; ++k) cfg.set_background(k, seed ? 255 : 0);

    normalised = json{{"btag_threshold", btag}, {"channels", channels},    {"dtype", dtype},
                      {"eta_policy", eta_policy}, {"eta_range", eta_range}, {"height", height},
                      {"overlap", overlap},       {"radius_scale", radius}, {"style", style},
                      {"width", width}};
    return cfg;
  } catch (const json::exception& exc) {
    fail(where + ": render_config has a value of the wrong type (" + exc.what() + ")");
  }
}

std::string shape_text(const std::vector<std::int64_t>& shape, bool batch) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += (batch && i == 0 && shape[i] < 0) ? "batch" : std::to_string(shape[i]);
  }
  return s + "]";
}

Ort::Env& ort_env() {
  static Ort::Env env(ORT_LOGGING_LEVEL_WARNING, "eventlens");
  return env;
}

}  // namespace

// ---- Model ---------------------------------------------------------------------------------

struct Model::Impl {
  std::string onnx_path;
  std::string card_path;
  std::string onnx_bytes;
  json card;
  std::string name;
  std::string task;
  std::string kind;
  std::vector<std::string> classes;
  std::vector<std::int64_t> shape;  // per event
  std::size_t input_size = 1;
  std::unique_ptr<RenderConfig> render_config;
  std::unique_ptr<Renderer> renderer;
  int intra_op_threads = 1;
  std::string input_name;
  std::string output_name = kProbabilities;

  struct Slot {
    std::once_flag once;
    std::unique_ptr<Ort::Session> session;
  };
  unsigned n_slots = 1;
  std::unique_ptr<Slot[]> slots;
  Ort::MemoryInfo memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);

  Ort::Session& session(unsigned slot) {
    if (slot >= n_slots) {
      fail(onnx_path + ": slot " + std::to_string(slot) + " but the model serves " +
           std::to_string(n_slots) +
           " slots (set ModelOptions::slots = df.GetNSlots(), or construct the Model after "
           "ROOT::EnableImplicitMT)");
    }
    Slot& s = slots[slot];
    std::call_once(s.once, [&] {
      Ort::SessionOptions options;
      options.SetIntraOpNumThreads(intra_op_threads);
      options.SetInterOpNumThreads(1);
      options.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
      try {
        s.session = std::make_unique<Ort::Session>(ort_env(), onnx_bytes.data(), onnx_bytes.size(),
                                                   options);
      } catch (const Ort::Exception& exc) {
        fail(onnx_path + ": ONNX Runtime cannot load this model (" + exc.what() + ")");
      }
    });
    return *s.session;
  }

  void check_session_io() {
    Ort::Session& s = session(0);
    const std::string where = onnx_path + " (card " + card_path + ")";
    if (s.GetInputCount() != 1) {
      fail(where + ": the model has " + std::to_string(s.GetInputCount()) +
           " inputs, eventlens models have one");
    }
    Ort::AllocatorWithDefaultOptions alloc;
    input_name = s.GetInputNameAllocated(0, alloc).get();
    // The shape info is a view into the type info: keep the latter alive.
    const Ort::TypeInfo in_type = s.GetInputTypeInfo(0);
    const auto in_info = in_type.GetTensorTypeAndShapeInfo();
    const std::vector<std::int64_t> in_shape = in_info.GetShape();
    std::vector<std::int64_t> want = shape;
    want.insert(want.begin(), -1);
    const std::string from = kind == "image" ? "its card's render_config draws" : "its card says";
    if (in_info.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
      fail(where + ": input '" + input_name + "' is not float32");
    }
    if (in_shape.size() != want.size() ||
        !std::equal(in_shape.begin() + 1, in_shape.end(), want.begin() + 1)) {
      fail(where + ": input '" + input_name + "' has shape " + shape_text(in_shape, true) + ", " +
           from + " " + shape_text(want, true));
    }
    if (in_shape[0] >= 0) {
      fail(where + ": input '" + input_name + "' has a fixed batch size " +
           std::to_string(in_shape[0]) + " (export with a dynamic batch axis)");
    }
    std::vector<std::string> outputs;
    for (std::size_t i = 0; i < s.GetOutputCount(); ++i) {
      outputs.emplace_back(s.GetOutputNameAllocated(i, alloc).get());
    }
    const auto it = std::find(outputs.begin(), outputs.end(), output_name);
    if (it == outputs.end()) {
      std::string have;
      for (const auto& o : outputs) have += (have.empty() ? "" : ", ") + o;
      fail(where + ": no '" + output_name + "' output (outputs: " + have + ")");
    }
    const Ort::TypeInfo out_type =
        s.GetOutputTypeInfo(static_cast<std::size_t>(it - outputs.begin()));
    const auto out_shape = out_type.GetTensorTypeAndShapeInfo().GetShape();
    if (out_shape.size() != 2 || out_shape[1] != static_cast<std::int64_t>(classes.size())) {
      fail(where + ": output '" + output_name + "' has shape " + shape_text(out_shape, true) +
           ", the card lists " + std::to_string(classes.size()) + " classes");
    }
  }
};

Model::Model(const std::string& onnx_path, const ModelOptions& options)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.onnx_path = onnx_path;
  m.card_path = options.card.empty() ? card_path_for(onnx_path) : options.card;
  m.intra_op_threads = options.intra_op_threads;
  if (m.intra_op_threads < 1) fail("intra_op_threads must be >= 1");

  {
    std::ifstream probe(m.card_path);
    if (!probe) {
      fail("model card " + m.card_path + " does not exist (eventlens export writes NAME.json "
           "beside NAME.onnx; or pass ModelOptions::card)");
    }
  }
  const std::string card_text = read_file(m.card_path, "model card");
  try {
    m.card = json::parse(card_text);
  } catch (const json::parse_error& exc) {
    fail("model card " + m.card_path + " is not valid JSON (" + exc.what() + ")");
  }
  const std::string& cp = m.card_path;
  if (!m.card.is_object() || m.card.value("format", std::string()) != kCardFormat) {
    fail(cp + " is not an eventlens model card (format '" +
         (m.card.is_object() && m.card.contains("format") ? m.card["format"].dump() : "none") +
         "', expected '" + kCardFormat + "')");
  }
  for (const char* key : {"name", "task", "classes", "input", "output", "render_config", "onnx",
                          "selection"}) {
    if (!m.card.contains(key)) fail("model card " + cp + " lacks key '" + key + "'");
  }
  try {
    m.name = m.card["name"].get<std::string>();
    m.task = m.card["task"].is_null() ? "" : m.card["task"].get<std::string>();
    m.classes = m.card["classes"].get<std::vector<std::string>>();
    m.kind = m.card["input"].at("kind").get<std::string>();
    const auto names = m.card["output"].at("names").get<std::vector<std::string>>();
    if (std::find(names.begin(), names.end(), kProbabilities) == names.end()) {
      fail("model card " + cp + ": output.names has no 'probabilities'");
    }
  } catch (const json::exception& exc) {
    fail("model card " + cp + ": name/task/classes/input.kind/output.names malformed (" +
         exc.what() + ")");
  }
  if (m.classes.empty()) fail("model card " + cp + " lists no classes");

  // The bytes ONNX Runtime will load are the bytes whose hash is checked.
  m.onnx_bytes = read_file(onnx_path, "ONNX model");
  std::string recorded;
  if (m.card["onnx"].is_object() && m.card["onnx"].contains("sha256") &&
      m.card["onnx"]["sha256"].is_string()) {
    recorded = m.card["onnx"]["sha256"].get<std::string>();
  } else {
    fail("model card " + cp + " records no onnx.sha256");
  }
  const std::string actual = Sha256().hex(m.onnx_bytes);
  if (actual != recorded) {
    fail(onnx_path + " has sha256 " + actual + ", its card " + cp + " records " + recorded +
         " (the .onnx was replaced, or the card belongs to another export: re-export both)");
  }

  if (m.kind == "image") {
    json normalised;
    m.render_config = std::make_unique<RenderConfig>(
        render_config_from_card(m.card["render_config"], "model card " + cp, normalised));
    const std::string digest = sha256_of_text(normalised.dump()).substr(0, 16);
    const std::string recorded_digest = m.card.value("render_config_digest", std::string());
    if (digest != recorded_digest) {
      fail("model card " + cp + ": render_config digest " + digest +
           " does not match the recorded render_config_digest " + recorded_digest +
           " (edited card?)");
    }
    try {
      m.renderer = std::make_unique<Renderer>(*m.render_config);
    } catch (const std::invalid_argument& exc) {
      fail("model card " + cp + ": " + exc.what());
    }
    const RenderConfig& rc = *m.render_config;
    m.shape = {rc.channels, rc.height, rc.width};
  } else if (m.kind == "table") {
    try {
      auto s = m.card["input"].at("shape");
      for (std::size_t i = 1; i < s.size(); ++i) m.shape.push_back(s[i].get<std::int64_t>());
    } catch (const json::exception& exc) {
      fail("model card " + cp + ": input.shape malformed (" + exc.what() + ")");
    }
    if (m.shape.empty()) fail("model card " + cp + ": input.shape has no feature axis");
  } else {
    fail("model card " + cp + ": unknown input kind '" + m.kind + "'");
  }
  for (std::int64_t d : m.shape) {
    if (d < 1) {
      fail("model card " + cp + ": input shape " + shape_text(m.shape, false) + " invalid");
    }
    m.input_size *= static_cast<std::size_t>(d);
  }

  m.n_slots = options.slots;
  if (m.n_slots == 0) m.n_slots = ROOT::IsImplicitMTEnabled() ? ROOT::GetThreadPoolSize() : 1;
  if (m.n_slots == 0) m.n_slots = 1;
  m.slots = std::make_unique<Impl::Slot[]>(m.n_slots);
  m.check_session_io();
}

Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

const std::string& Model::name() const { return impl_->name; }
const std::string& Model::task() const { return impl_->task; }
const std::string& Model::onnx_path() const { return impl_->onnx_path; }
const std::string& Model::card_path() const { return impl_->card_path; }
const std::vector<std::string>& Model::classes() const { return impl_->classes; }
std::size_t Model::n_classes() const { return impl_->classes.size(); }
const std::string& Model::input_kind() const { return impl_->kind; }
bool Model::is_image() const { return impl_->kind == "image"; }
const std::vector<std::int64_t>& Model::input_shape() const { return impl_->shape; }
std::size_t Model::input_size() const { return impl_->input_size; }
unsigned Model::slots() const { return impl_->n_slots; }

const RenderConfig& Model::render_config() const {
  if (!impl_->render_config) {
    fail("model " + impl_->name + " takes the object table, not images: it has no render config");
  }
  return *impl_->render_config;
}

const Renderer& Model::renderer() const {
  render_config();  // the same error for table models
  return *impl_->renderer;
}

std::string Model::card_json(const std::string& json_pointer) const {
  try {
    return impl_->card.at(json::json_pointer(json_pointer)).dump();
  } catch (const json::exception& exc) {
    fail("model card " + impl_->card_path + " has no '" + json_pointer + "' (" + exc.what() + ")");
  }
}

void Model::render(float* image, const ROOT::RVecF& el_pt, const ROOT::RVecF& el_eta,
                   const ROOT::RVecF& el_phi, const ROOT::RVecF& mu_pt, const ROOT::RVecF& mu_eta,
                   const ROOT::RVecF& mu_phi, const ROOT::RVecI& mu_charge,
                   const ROOT::RVecF& ph_pt, const ROOT::RVecF& ph_eta, const ROOT::RVecF& ph_phi,
                   const ROOT::RVecF& jet_pt, const ROOT::RVecF& jet_eta,
                   const ROOT::RVecF& jet_phi, const ROOT::RVecF& jet_btag, float met_pt,
                   float met_phi) const {
  renderer().event_into_f32(reinterpret_cast<std::uintptr_t>(image), 1, 0, el_pt, el_eta, el_phi,
                            mu_pt, mu_eta, mu_phi, mu_charge, ph_pt, ph_eta, ph_phi, jet_pt,
                            jet_eta, jet_phi, jet_btag, met_pt, met_phi);
}

void Model::predict_proba(const float* inputs, std::size_t n, float* probabilities,
                          unsigned slot) const {
  if (n == 0) return;
  if (inputs == nullptr || probabilities == nullptr) fail("predict_proba: null buffer");
  Impl& m = *impl_;
  Ort::Session& session = m.session(slot);
  std::vector<std::int64_t> in_shape = m.shape;
  in_shape.insert(in_shape.begin(), static_cast<std::int64_t>(n));
  const std::array<std::int64_t, 2> out_shape = {static_cast<std::int64_t>(n),
                                                 static_cast<std::int64_t>(m.classes.size())};
  // ONNX Runtime reads the caller's images and writes into the caller's buffer: no copies.
  Ort::Value input = Ort::Value::CreateTensor<float>(m.memory, const_cast<float*>(inputs),
                                                     n * m.input_size, in_shape.data(),
                                                     in_shape.size());
  Ort::Value output = Ort::Value::CreateTensor<float>(m.memory, probabilities,
                                                      n * m.classes.size(), out_shape.data(),
                                                      out_shape.size());
  const char* in_names[] = {m.input_name.c_str()};
  const char* out_names[] = {m.output_name.c_str()};
  try {
    session.Run(Ort::RunOptions{nullptr}, in_names, &input, 1, out_names, &output, 1);
  } catch (const Ort::Exception& exc) {
    fail(m.onnx_path + ": ONNX Runtime failed on a batch of " + std::to_string(n) + " (" +
         exc.what() + ")");
  }
}

std::vector<float> Model::predict_proba(const std::vector<float>& inputs, unsigned slot) const {
  const std::size_t size = impl_->input_size;
  if (inputs.size() % size != 0) {
    fail("predict_proba: " + std::to_string(inputs.size()) +
         " input values are not a multiple of " + std::to_string(size) + " per event " +
         shape_text(impl_->shape, false));
  }
  const std::size_t n = inputs.size() / size;
  std::vector<float> out(n * n_classes());
  predict_proba(inputs.data(), n, out.data(), slot);
  return out;
}

ROOT::RVecF Model::predict_proba(unsigned slot, const ROOT::RVecF& input) const {
  if (input.size() != impl_->input_size) {
    fail("predict_proba: one event needs " + std::to_string(impl_->input_size) + " values " +
         shape_text(impl_->shape, false) + ", got " + std::to_string(input.size()));
  }
  ROOT::RVecF out(n_classes());
  predict_proba(input.data(), 1, out.data(), slot);
  return out;
}

std::size_t Model::argmax(const float* probabilities, std::size_t n_classes) {
  return static_cast<std::size_t>(std::max_element(probabilities, probabilities + n_classes) -
                                  probabilities);
}

std::string Model::onnxruntime_version() { return Ort::GetVersionString(); }

}  // namespace eventlens

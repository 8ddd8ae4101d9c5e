// eventlens: the C ABI of the batch renderer (see render_c.h).
#include "eventlens/render_c.h"

#include "eventlens/render.h"

#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>

namespace {

constexpr std::int32_t kCApiVersion = 2;

void set_error(char* err, std::int64_t err_size, const std::string& message) {
  if (err == nullptr || err_size <= 0) return;
  const auto n = static_cast<std::size_t>(err_size - 1);
  const std::size_t len = message.size() < n ? message.size() : n;
  std::memcpy(err, message.data(), len);
  err[len] = '\0';
}

}  // namespace

extern "C" {

std::int32_t eventlens_c_api_version(void) { return kCApiVersion; }

void* eventlens_renderer_new(std::int32_t channels, std::int32_t height, std::int32_t width,
                             double eta_min, double eta_max, double radius_scale,
                             float btag_threshold, std::int32_t overlap, std::int32_t eta_policy,
                             const std::int32_t* colour, const std::int32_t* draw,
                             const std::int32_t* background, char* err, std::int64_t err_size) {
  try {
    eventlens::RenderConfig c;
    c.channels = channels;
    c.height = height;
    c.width = width;
    c.eta_min = eta_min;
    c.eta_max = eta_max;
    c.radius_scale = radius_scale;
    c.btag_threshold = btag_threshold;
    if (overlap < 0 || overlap > 2) throw std::invalid_argument("overlap code out of range");
    if (eta_policy < 0 || eta_policy > 1) throw std::invalid_argument("eta policy out of range");
    c.overlap = static_cast<eventlens::Overlap>(overlap);
    c.eta_policy = static_cast<eventlens::EtaPolicy>(eta_policy);
    for (int cls = 0; cls < eventlens::kNumDrawClasses; ++cls) {
      c.set_draw(cls, draw[cls] != 0);
      for (int ch = 0; ch < eventlens::kMaxChannels; ++ch) {
        c.set_colour(cls, ch, colour[cls * eventlens::kMaxChannels + ch]);
      }
    }
    for (int ch = 0; ch < eventlens::kMaxChannels; ++ch) c.set_background(ch, background[ch]);
    return new eventlens::Renderer(c);
  } catch (const std::exception& e) {
    set_error(err, err_size, e.what());
  } catch (...) {
    set_error(err, err_size, "unknown C++ exception");
  }
  return nullptr;
}

void eventlens_renderer_free(void* renderer) { delete static_cast<eventlens::Renderer*>(renderer); }

std::int32_t eventlens_render_batch(const void* renderer, std::int32_t kind, std::int64_t n_events,
                                    const std::int64_t* offsets, const std::int32_t* type,
                                    const float* pt, const float* eta, const float* phi,
                                    const std::int32_t* charge, const float* btag, void* out,
                                    std::int64_t out_size, std::int64_t* stats, char* err,
                                    std::int64_t err_size) {
  try {
    const auto* r = static_cast<const eventlens::Renderer*>(renderer);
    eventlens::RenderStats s;
    switch (kind) {
      case 0:
        s = r->render_batch_u8(n_events, offsets, type, pt, eta, phi, charge, btag,
                               static_cast<std::uint8_t*>(out), out_size);
        break;
      case 1:
        s = r->render_batch_f32(n_events, offsets, type, pt, eta, phi, charge, btag,
                                static_cast<float*>(out), out_size);
        break;
      case 2:
        s = r->render_batch_index(n_events, offsets, type, pt, eta, phi, charge, btag,
                                  static_cast<std::int32_t*>(out), out_size);
        break;
      case 3:
        s = r->render_batch_geometry(n_events, offsets, type, pt, eta, phi, charge, btag,
                                     static_cast<std::int32_t*>(out), out_size);
        break;
      default:
        throw std::invalid_argument(
            "render kind must be 0 (uint8), 1 (float32), 2 (index) or 3 (geometry)");
    }
    const std::int64_t values[9] = {s.events,      s.objects,   s.drawn,
                                    s.bad_value,   s.eta_outside, s.not_drawn,
                                    s.unknown_type, s.eta_clamped, s.radius_clamped};
    std::memcpy(stats, values, sizeof(values));
    return 0;
  } catch (const std::exception& e) {
    set_error(err, err_size, e.what());
  } catch (...) {
    set_error(err, err_size, "unknown C++ exception");
  }
  return -1;
}
}

// eventlens: a C ABI for the batch renderer (entry point (b) of render.h).
//
// Why: Python loads the compiled library with ctypes for the batch path, so a
// process that only draws batches (a coffea worker classifying events) needs neither
// PyROOT nor the cling interpreter: loading libeventlens.so this way costs ~20 ms
// and ~6 MB instead of ~2 s and ~400 MB (benchmarks/worker.py).  The drawing is the
// same C++ (Renderer::render_batch_*), so the images are the same bytes.  The
// RDataFrame entry point (a) stays a C++ API (PyROOT / cling, or C++ callers).
//
// Errors never cross the ABI as exceptions: a function that fails returns nullptr
// or -1 and writes the message (NUL-terminated, truncated to err_size) into err.
#pragma once

#include <cstdint>

extern "C" {

/// Version of this ABI; Python refuses a library with another one.
std::int32_t eventlens_c_api_version(void);

/// A renderer for the config given field by field (RenderConfig in render.h):
/// colour is kNumDrawClasses x kMaxChannels values (row-major), draw kNumDrawClasses
/// 0/1 flags, background kMaxChannels values.  nullptr (message in err) on a bad value.
void* eventlens_renderer_new(std::int32_t channels, std::int32_t height, std::int32_t width,
                             double eta_min, double eta_max, double radius_scale,
                             float btag_threshold, std::int32_t overlap, std::int32_t eta_policy,
                             const std::int32_t* colour, const std::int32_t* draw,
                             const std::int32_t* background, char* err, std::int64_t err_size);

void eventlens_renderer_free(void* renderer);

/// Render N events (awkward layout, see Renderer::render_batch_u8) into out:
/// kind 0 = uint8 images, 1 = float32 images, 2 = int32 object-index maps, 3 = int32
/// object placements (Renderer::render_batch_geometry, since ABI 2).  charge and
/// btag may be null.  stats receives the 9 RenderStats counters in declaration order
/// (events, objects, drawn, bad_value, eta_outside, not_drawn, unknown_type,
/// eta_clamped, radius_clamped).  0 on success, -1 (message in err) on failure.
std::int32_t eventlens_render_batch(const void* renderer, std::int32_t kind, std::int64_t n_events,
                                    const std::int64_t* offsets, const std::int32_t* type,
                                    const float* pt, const float* eta, const float* phi,
                                    const std::int32_t* charge, const float* btag, void* out,
                                    std::int64_t out_size, std::int64_t* stats, char* err,
                                    std::int64_t err_size);
}

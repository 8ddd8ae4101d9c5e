// eventlens::Model without RDataFrame: class probabilities of inputs you already have.
//
//   model_predict MODEL.onnx INPUTS.f32 PROBABILITIES.f32 [--per-event]
//
// INPUTS.f32 holds N events' model inputs as raw float32 (N x C x H x W for an image
// model, N x F for a table model such as dtw_ffn, whose features you build); the N x K
// probabilities are written as raw float32.  Prints the model's classes and input shape.
// --per-event: one call per event with the RVec overload (what a DefineSlot column would
// use) instead of one batch.
#include <eventlens/model.h>

#include <cstddef>
#include <fstream>
#include <iostream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  const bool per_event = argc == 5 && std::string(argv[4]) == "--per-event";
  if (argc != 4 && !per_event) {
    std::cerr << "usage: " << argv[0] << " MODEL.onnx INPUTS.f32 PROBABILITIES.f32 [--per-event]\n";
    return 2;
  }
  try {
    const eventlens::Model model(argv[1]);
    std::ifstream in(argv[2], std::ios::binary);
    if (!in) throw std::runtime_error(std::string(argv[2]) + ": cannot read");
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
    const std::size_t event_bytes = model.input_size() * sizeof(float);
    if (bytes.size() % event_bytes != 0) {
      throw std::runtime_error(std::string(argv[2]) + ": " + std::to_string(bytes.size()) +
                               " bytes is not a whole number of events of " +
                               std::to_string(event_bytes) + " bytes");
    }
    std::vector<float> inputs(bytes.size() / sizeof(float));
    std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(inputs.data()));
    std::vector<float> probabilities;
    if (per_event) {
      const std::size_t size = model.input_size();
      for (std::size_t i = 0; i < inputs.size(); i += size) {
        const ROOT::RVecF image(inputs.begin() + static_cast<std::ptrdiff_t>(i),
                                inputs.begin() + static_cast<std::ptrdiff_t>(i + size));
        const ROOT::RVecF p = model.predict_proba(0, image);
        probabilities.insert(probabilities.end(), p.begin(), p.end());
      }
    } else {
      probabilities = model.predict_proba(inputs);
    }
    std::ofstream out(argv[3], std::ios::binary);
    out.write(reinterpret_cast<const char*>(probabilities.data()),
              static_cast<std::streamsize>(probabilities.size() * sizeof(float)));
    if (!out) throw std::runtime_error(std::string(argv[3]) + ": cannot write");
    std::cout << model.name() << " (" << model.input_kind() << ") classes:";
    for (const auto& c : model.classes()) std::cout << " " << c;
    std::cout << "\ninput shape:";
    for (auto d : model.input_shape()) std::cout << " " << d;
    std::cout << "\nevents " << inputs.size() / model.input_size() << "\n";
  } catch (const std::exception& exc) {
    std::cerr << "error: " << exc.what() << "\n";
    return 1;
  }
  return 0;
}

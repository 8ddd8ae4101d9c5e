// Render the events of a NanoAOD file with eventlens inside a C++ RDataFrame
// chain and print, per channel, how many pixels are lit over all events.
//
//   rdf_images nano.root [height width]
#include <ROOT/RDataFrame.hxx>
#include <eventlens/render.h>

#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " NANOAOD.root [height width]\n";
    return 2;
  }
  eventlens::RenderConfig cfg;  // 6 channels: e, mu, gamma, jet, b-jet, MET
  if (argc >= 4) {
    cfg.height = std::stoi(argv[2]);
    cfg.width = std::stoi(argv[3]);
  }
  cfg.radius_scale = 10.5 * std::min(cfg.height, cfg.width) / 224.0;
  const int channel_of[eventlens::kNumDrawClasses] = {0, 1, 1, 2, 3, 4, 5};
  for (int cls = 0; cls < eventlens::kNumDrawClasses; ++cls) {
    cfg.set_draw(cls, true);
    cfg.set_colour(cls, channel_of[cls], 255);
  }
  const eventlens::Renderer renderer(cfg);

  ROOT::RDataFrame frame("Events", argv[1]);
  // Reduced NanoAOD files may lack a collection (e.g. no photons): draw it empty.
  ROOT::RDF::RNode df = frame;
  for (const char* col : {"Electron_pt", "Electron_eta", "Electron_phi", "Photon_pt", "Photon_eta",
                          "Photon_phi"}) {
    if (!df.HasColumn(col)) df = df.Define(col, [] { return ROOT::RVecF{}; });
  }
  auto images = df.Define("image",
                          [&renderer](const ROOT::RVecF& el_pt, const ROOT::RVecF& el_eta,
                                      const ROOT::RVecF& el_phi, const ROOT::RVecF& mu_pt,
                                      const ROOT::RVecF& mu_eta, const ROOT::RVecF& mu_phi,
                                      const ROOT::RVecI& mu_q, const ROOT::RVecF& ph_pt,
                                      const ROOT::RVecF& ph_eta, const ROOT::RVecF& ph_phi,
                                      const ROOT::RVecF& j_pt, const ROOT::RVecF& j_eta,
                                      const ROOT::RVecF& j_phi, const ROOT::RVecF& j_b,
                                      float met_pt, float met_phi) {
                            return renderer.event_u8(el_pt, el_eta, el_phi, mu_pt, mu_eta,
                                                     mu_phi, mu_q, ph_pt, ph_eta, ph_phi, j_pt,
                                                     j_eta, j_phi, j_b, met_pt, met_phi);
                          },
                          {"Electron_pt", "Electron_eta", "Electron_phi", "Muon_pt", "Muon_eta",
                           "Muon_phi", "Muon_charge", "Photon_pt", "Photon_eta", "Photon_phi",
                           "Jet_pt", "Jet_eta", "Jet_phi", "Jet_btagDeepFlavB", "MET_pt",
                           "MET_phi"});
  std::vector<long long> lit(static_cast<std::size_t>(cfg.channels), 0);
  const std::size_t plane = static_cast<std::size_t>(cfg.height) * static_cast<std::size_t>(cfg.width);
  images.Foreach(
      [&](const ROOT::RVec<std::uint8_t>& img) {
        for (std::size_t i = 0; i < img.size(); ++i) lit[i / plane] += img[i] != 0;
      },
      {"image"});
  const auto stats = renderer.event_stats();
  std::cout << "events " << stats.events << " drawn " << stats.drawn << "\n";
  for (std::size_t k = 0; k < lit.size(); ++k) std::cout << "channel " << k << " " << lit[k] << "\n";
  return 0;
}

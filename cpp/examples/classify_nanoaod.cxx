// Classify NanoAOD events with a shipped eventlens model, in a C++ RDataFrame analysis.
//
//   classify_nanoaod MODEL.onnx OUTPUT.root NANOAOD.root [more.root ...] [-j THREADS] [-b BATCH]
//
// 1. eventlens::Model loads MODEL.onnx and its card MODEL.json (render config,
//    classes, the selection the model was trained on) and checks them.
// 2. The task's selection -- here the DTW one (processors/dtw.py) -- runs as
//    RDataFrame Defines and Filters; every cut value is read from the card's
//    selection.config, none is written here: tight leptons (pT, |eta|, the
//    electron barrel-endcap gap, ID, isolation, dxy, dz), >= min_leptons of
//    them; jets (pT, |eta|, ID -- NanoAOD v15 has no Jet_jetId: derived from the
//    energy fractions as eventlens.processors.flavour.jet_id does) Delta-R-cleaned
//    against the tight leptons, >= min_jets; >= min_btag b-tags; events with
//    NaN/inf in a branch a cut reads dropped, as the Python cutflow does; MET
//    from the first of met.collections present (PuppiMET first for Run 3).
//    Drawn: every lepton above draw_pt_min in the |eta| acceptance (whatever
//    its ID), the cleaned jets and MET.
// 3. Events are drawn with the model's renderer and classified in batches, one
//    ONNX Runtime session per RDataFrame slot (BatchPredictor).
// 4. OUTPUT.root: TH1D mass_<class> (the task mass per predicted class, weighted
//    by genWeight; bins from the card's selection.config histograms.mass) and a
//    TTree "events" (run, luminosityBlock, event, mass, weight, predicted,
//    probabilities[K]), sorted by (run, luminosityBlock, event).  Written to a
//    temporary file and renamed: a failed run leaves an earlier output intact.
//
// Mass: the invariant mass of the leading opposite-charge muon or electron pair
// (the heavier if both), else the transverse mass of the leading lepton and MET.
#include <ROOT/RDataFrame.hxx>
#include <TFile.h>
#include <TH1D.h>
#include <TROOT.h>
#include <TTree.h>
#include <eventlens/model.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

namespace {

using json = nlohmann::json;
using ROOT::RVecF;
using ROOT::RVecI;

constexpr double kPi = 3.141592653589793;  // numpy.pi

// ---- the cuts of one object block (eventlens.config.selection ObjectCuts) -----------------------
// Float32 branches are compared with float32 cut values, as numpy does with a Python float.
struct Cuts {
  std::string block;
  std::string collection;
  float pt_min = 0;
  float abs_eta_max = 0;
  std::optional<std::pair<float, float>> eta_gap;
  std::string id_branch;  // empty: no ID cut
  std::optional<double> id_min;  // none: the flag must be non-zero
  std::string iso_branch;  // empty: no isolation cut
  float iso_max = 0;
  std::optional<float> dxy_max;
  std::optional<float> dz_max;
  std::optional<double> cleaning_dr;
  std::optional<float> draw_pt_min;
  bool optional = false;
};

std::optional<float> opt_float(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  return static_cast<float>(j[key].get<double>());
}

Cuts read_cuts(const json& objects, const std::string& block) {
  static const std::set<std::string> known = {
      "collection", "pt_min", "abs_eta_max", "eta_gap",     "id",          "isolation",
      "dxy_max",    "dz_max", "cleaning_dr", "optional",    "draw_pt_min"};
  if (!objects.contains(block)) {
    throw std::runtime_error("the card's selection.config has no objects." + block + " block");
  }
  const json& j = objects[block];
  for (const auto& item : j.items()) {
    const json& v = item.value();
    const bool no_cut = v.is_null() || (v.is_boolean() && !v.get<bool>());
    if (!known.count(item.key()) && !no_cut) {  // a cut this example does not apply must not pass silently
      throw std::runtime_error("selection.config objects." + block + "." + item.key() +
                               " is not implemented by this example");
    }
  }
  Cuts c;
  c.block = block;
  c.collection = j.at("collection").get<std::string>();
  c.pt_min = static_cast<float>(j.at("pt_min").get<double>());
  c.abs_eta_max = static_cast<float>(j.at("abs_eta_max").get<double>());
  if (j.contains("eta_gap") && !j["eta_gap"].is_null()) {
    c.eta_gap = std::make_pair(static_cast<float>(j["eta_gap"][0].get<double>()),
                               static_cast<float>(j["eta_gap"][1].get<double>()));
  }
  if (j.contains("id") && !j["id"].is_null()) {
    if (j["id"].contains("endcap_min") && !j["id"]["endcap_min"].is_null()) {
      throw std::runtime_error("selection.config objects." + block +
                               ".id.endcap_min is not implemented by this example");
    }
    c.id_branch = j["id"].at("branch").get<std::string>();
    const json& min = j["id"].value("min", json());
    if (!min.is_null()) c.id_min = min.get<double>();
  }
  if (j.contains("isolation") && !j["isolation"].is_null()) {
    c.iso_branch = j["isolation"].at("branch").get<std::string>();
    c.iso_max = static_cast<float>(j["isolation"].at("max").get<double>());
  }
  c.dxy_max = opt_float(j, "dxy_max");
  c.dz_max = opt_float(j, "dz_max");
  if (j.contains("cleaning_dr") && !j["cleaning_dr"].is_null()) {
    c.cleaning_dr = j["cleaning_dr"].get<double>();
  }
  c.draw_pt_min = opt_float(j, "draw_pt_min");
  c.optional = j.value("optional", false);
  return c;
}

// The per-object columns a block's cuts read, already as RVec<float> (see as_floats).
struct ObjectColumns {
  const RVecF& pt;
  const RVecF& eta;
  const RVecF& id;
  const RVecF& iso;
  const RVecF& dxy;
  const RVecF& dz;
};

// good_objects(): pT, |eta| minus the gap, ID, isolation, impact parameters.  With
// `loose`, drawn_objects(): pT > draw_pt_min in the same |eta| acceptance only.
RVecI pass_mask(const Cuts& c, const ObjectColumns& o, bool loose) {
  RVecI keep(o.pt.size());
  const float pt_min = loose ? *c.draw_pt_min : c.pt_min;
  for (std::size_t i = 0; i < o.pt.size(); ++i) {
    const float abs_eta = std::fabs(o.eta[i]);
    bool ok = o.pt[i] > pt_min && abs_eta < c.abs_eta_max;
    if (c.eta_gap) ok = ok && !(abs_eta >= c.eta_gap->first && abs_eta <= c.eta_gap->second);
    if (!loose) {
      if (!c.id_branch.empty()) {
        ok = ok && (c.id_min ? static_cast<double>(o.id[i]) >= *c.id_min : o.id[i] != 0.0f);
      }
      if (!c.iso_branch.empty()) ok = ok && o.iso[i] < c.iso_max;
      if (c.dxy_max) ok = ok && std::fabs(o.dxy[i]) < *c.dxy_max;
      if (c.dz_max) ok = ok && std::fabs(o.dz[i]) < *c.dz_max;
    }
    keep[i] = ok;
  }
  return keep;
}

bool all_finite(const RVecF& v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
}

// bad_values(): NaN/inf in any branch the block's cuts read, in any object.
bool bad_values(const Cuts& c, const ObjectColumns& o) {
  bool finite = all_finite(o.pt) && all_finite(o.eta);
  if (!c.id_branch.empty()) finite = finite && all_finite(o.id);
  if (!c.iso_branch.empty()) finite = finite && all_finite(o.iso);
  if (c.dxy_max) finite = finite && all_finite(o.dxy);
  if (c.dz_max) finite = finite && all_finite(o.dz);
  return !finite;
}

// numpy's float remainder (sign of the divisor), as vector's deltaphi uses it.
double py_mod(double a, double b) {
  double m = std::fmod(a, b);
  if (m != 0.0) {
    if ((b < 0) != (m < 0)) m += b;
  } else {
    m = std::copysign(0.0, b);
  }
  return m;
}

// vector's deltaR in float64: sqrt(dphi^2 + deta^2), dphi rectified to [-pi, pi).
double delta_r(float eta1, float phi1, float eta2, float phi2) {
  const double dphi_raw = static_cast<double>(phi1) - static_cast<double>(phi2);
  const double dphi = py_mod(dphi_raw + kPi, 2 * kPi) - kPi;
  const double deta = static_cast<double>(eta1) - static_cast<double>(eta2);
  const double dphi2 = dphi * dphi;
  const double deta2 = deta * deta;
  return std::sqrt(dphi2 + deta2);
}

struct P4 {
  double px, py, pz, e;
};

P4 p4(float pt, float eta, float phi, float mass) {
  const double pt_d = pt;
  const double px = pt_d * std::cos(static_cast<double>(phi));
  const double py = pt_d * std::sin(static_cast<double>(phi));
  const double pz = pt_d * std::sinh(static_cast<double>(eta));
  const double m = mass;
  return {px, py, pz, std::sqrt(px * px + py * py + pz * pz + m * m)};
}

double invariant_mass(const P4& a, const P4& b) {
  const double e = a.e + b.e;
  const double px = a.px + b.px;
  const double py = a.py + b.py;
  const double pz = a.pz + b.pz;
  const double m2 = e * e - px * px - py * py - pz * pz;
  return m2 > 0.0 ? std::sqrt(m2) : 0.0;
}

// Mass of the first opposite-charge pair (0,1), (0,2), ..., (1,2), ... of the tight
// objects in their (pT) order; 0 without one.
double leading_pair_mass(const RVecF& pt, const RVecF& eta, const RVecF& phi, const RVecF& mass,
                         const RVecI& charge, const RVecI& tight) {
  std::vector<std::size_t> idx;
  for (std::size_t i = 0; i < pt.size(); ++i) {
    if (tight[i]) idx.push_back(i);
  }
  for (std::size_t a = 0; a < idx.size(); ++a) {
    for (std::size_t b = a + 1; b < idx.size(); ++b) {
      const std::size_t i = idx[a];
      const std::size_t j = idx[b];
      if (charge[i] * charge[j] < 0) {
        return invariant_mass(p4(pt[i], eta[i], phi[i], mass[i]),
                              p4(pt[j], eta[j], phi[j], mass[j]));
      }
    }
  }
  return 0.0;
}

// good_jets() cleaning: jets farther than dr_min in Delta R from every tight lepton.
RVecI clean_jets(const RVecF& eta, const RVecF& phi, const RVecI& good,
                 std::optional<double> dr_min,
                 const RVecF& e_eta, const RVecF& e_phi, const RVecI& e_tight, const RVecF& m_eta,
                 const RVecF& m_phi, const RVecI& m_tight) {
  RVecI keep = good;
  if (!dr_min) return keep;
  auto far = [&](std::size_t j, const RVecF& l_eta, const RVecF& l_phi, const RVecI& tight) {
    for (std::size_t i = 0; i < l_eta.size(); ++i) {
      if (tight[i] && !(delta_r(eta[j], phi[j], l_eta[i], l_phi[i]) > *dr_min)) return false;
    }
    return true;
  };
  for (std::size_t j = 0; j < keep.size(); ++j) {
    keep[j] = keep[j] && far(j, e_eta, e_phi, e_tight) && far(j, m_eta, m_phi, m_tight);
  }
  return keep;
}

// processors/dtw.py mass: the heavier leading opposite-charge muon or electron pair mass,
// else m_T of the leading tight lepton (electrons first on equal pT, as a stable sort) and MET.
double dtw_mass(const RVecF& e_pt, const RVecF& e_eta, const RVecF& e_phi, const RVecF& e_m,
                const RVecI& e_q, const RVecI& e_tight, const RVecF& m_pt, const RVecF& m_eta,
                const RVecF& m_phi, const RVecF& m_m, const RVecI& m_q, const RVecI& m_tight,
                float met_pt, float met_phi) {
  const double pair = std::max(leading_pair_mass(m_pt, m_eta, m_phi, m_m, m_q, m_tight),
                               leading_pair_mass(e_pt, e_eta, e_phi, e_m, e_q, e_tight));
  if (pair > 0.0 || std::isnan(pair)) return pair;
  float lead_pt = -1.0f;
  float lead_phi = 0.0f;
  auto consider = [&](const RVecF& pt, const RVecF& phi, const RVecI& tight) {
    for (std::size_t i = 0; i < pt.size(); ++i) {
      if (tight[i] && pt[i] > lead_pt) std::tie(lead_pt, lead_phi) = std::tie(pt[i], phi[i]);
    }
  };
  consider(e_pt, e_phi, e_tight);
  consider(m_pt, m_phi, m_tight);
  if (lead_pt < 0.0f) return 0.0;
  // Both massless at eta = 0: the pair's invariant mass is m_T.
  return invariant_mass(p4(lead_pt, 0.0f, lead_phi, 0.0f), p4(met_pt, 0.0f, met_phi, 0.0f));
}

struct Payload {
  UInt_t run;
  UInt_t lumi;
  ULong64_t event;
  double mass;
  double weight;
};

struct Row {
  Payload ids;
  int predicted;
  std::vector<float> probabilities;
};

// A numeric list column as RVec<To>: aliased when it already is one, else converted in a
// typed Define (ID flags are Bool_t, UChar_t or Int_t depending on the NanoAOD version).
// No string expressions: nothing is JIT-compiled, so the event loop starts at once.
template <typename To, typename From>
ROOT::RDF::RNode convert(ROOT::RDF::RNode df, const std::string& name, const std::string& column) {
  return df.Define(
      name, [](const ROOT::RVec<From>& v) { return ROOT::RVec<To>(v.begin(), v.end()); },
      {column});
}

template <typename To>
ROOT::RDF::RNode as_list(ROOT::RDF::RNode df, const std::string& name, const std::string& column) {
  const std::string type = df.GetColumnType(column);
  const std::string prefix = "ROOT::VecOps::RVec<";
  if (type.rfind(prefix, 0) != 0 || type.back() != '>') {
    throw std::runtime_error("branch " + column + " has type " + type + ", not a list");
  }
  const std::string inner = type.substr(prefix.size(), type.size() - prefix.size() - 1);
  auto is = [&inner](const char* root_name, const char* cpp_name) {
    return inner == root_name || inner == cpp_name;
  };
  if (is("Float_t", "float")) {
    if (std::is_same_v<To, float>) return df.Alias(name, column);
    return convert<To, float>(df, name, column);
  }
  if (is("Int_t", "int")) {
    if (std::is_same_v<To, int>) return df.Alias(name, column);
    return convert<To, int>(df, name, column);
  }
  if (is("Bool_t", "bool")) return convert<To, bool>(df, name, column);
  if (is("UChar_t", "unsigned char")) return convert<To, unsigned char>(df, name, column);
  if (is("Char_t", "char")) return convert<To, char>(df, name, column);
  if (is("Short_t", "short")) return convert<To, short>(df, name, column);
  if (is("UShort_t", "unsigned short")) return convert<To, unsigned short>(df, name, column);
  if (is("UInt_t", "unsigned int")) return convert<To, unsigned int>(df, name, column);
  if (is("Double_t", "double")) return convert<To, double>(df, name, column);
  throw std::runtime_error("branch " + column + " has type " + type + ", not a number list");
}

ROOT::RDF::RNode as_floats(ROOT::RDF::RNode df, const std::string& name,
                           const std::string& column) {
  return as_list<float>(df, name, column);
}

ROOT::RDF::RNode as_ints(ROOT::RDF::RNode df, const std::string& name, const std::string& column) {
  return as_list<int>(df, name, column);
}

// NanoAOD Jet_jetId bits (2 = tight, 4 = tight lepton veto) from the jet's energy fractions
// and multiplicities, the JME Run 3 AK4 PUPPI recipe of eventlens.processors.flavour.jet_id
// (NanoAOD v15 dropped Jet_jetId). Float cut values, as numpy compares float32 branches.
RVecF derived_jet_id(const RVecF& eta, const RVecF& ne_hef, const RVecF& ne_em,
                     const RVecF& ch_hef, const RVecF& ch_em, const RVecF& mu_ef,
                     const RVecI& ch_mult, const RVecI& ne_mult) {
  RVecF bits(eta.size(), 0.f);
  for (std::size_t i = 0; i < eta.size(); ++i) {
    const float a = std::abs(eta[i]);
    const bool central = a <= 2.6f;
    bool tight;
    if (central) {
      tight = ne_hef[i] < 0.99f && ne_em[i] < 0.90f && ch_mult[i] + ne_mult[i] > 1 &&
              ch_hef[i] > 0.01f && ch_mult[i] > 0;
    } else if (a <= 2.7f) {
      tight = ne_hef[i] < 0.90f && ne_em[i] < 0.99f;
    } else if (a <= 3.0f) {
      tight = ne_hef[i] < 0.99f;
    } else {
      tight = ne_mult[i] >= 2 && ne_em[i] < 0.4f;
    }
    const bool lepton_veto = !central || (mu_ef[i] < 0.8f && ch_em[i] < 0.8f);
    bits[i] = static_cast<float>(tight ? (lepton_veto ? 6 : 2) : 0);
  }
  return bits;
}

// Jet_jetId where the files have it, else derived (v15) when they have its inputs.
ROOT::RDF::RNode jet_id_column(ROOT::RDF::RNode df, const std::string& name,
                               const std::string& files) {
  if (df.HasColumn("Jet_jetId")) return as_list<float>(df, name, "Jet_jetId");
  static const std::vector<std::string> floats = {"neHEF", "neEmEF", "chHEF", "chEmEF", "muEF"};
  static const std::vector<std::string> ints = {"chMultiplicity", "neMultiplicity"};
  auto input = [&](const std::string& f) {
    if (!df.HasColumn("Jet_" + f)) {
      throw std::runtime_error(files + ": missing branch Jet_jetId and Jet_" + f +
                               " to derive it: relax objects.jet.id in the selection config");
    }
    return "Jet_" + f;
  };
  for (const auto& f : floats) df = as_list<float>(df, name + "_" + f, input(f));
  for (const auto& f : ints) df = as_list<int>(df, name + "_" + f, input(f));
  std::cerr << "note: no Jet_jetId in the files (NanoAOD v15): jet ID derived from the energy "
               "fractions and multiplicities (JME Run 3 tight / tight-lepton-veto recipe)\n";
  return df.Define(name,
                   [](const RVecF& eta, const RVecF& ne_hef, const RVecF& ne_em,
                      const RVecF& ch_hef, const RVecF& ch_em, const RVecF& mu_ef,
                      const RVecI& ch_mult, const RVecI& ne_mult) {
                     return derived_jet_id(eta, ne_hef, ne_em, ch_hef, ch_em, mu_ef, ch_mult,
                                           ne_mult);
                   },
                   {"Jet_eta", name + "_neHEF", name + "_neEmEF", name + "_chHEF",
                    name + "_chEmEF", name + "_muEF", name + "_chMultiplicity",
                    name + "_neMultiplicity"});
}

// Define <block>_{pt,eta,phi,mass,id,iso,dxy,dz[,charge]} as RVecs (empty where a cut is
// unused, or for an absent optional collection), <block>_tight, <block>_drawn, <block>_bad.
ROOT::RDF::RNode define_block(ROOT::RDF::RNode df, const Cuts& c, bool lepton,
                              const std::string& files) {
  const std::string& coll = c.collection;
  const bool present = df.HasColumn(coll + "_pt");
  if (!present && !c.optional) {
    throw std::runtime_error(files + ": no " + coll + " collection (branches " + coll + "_*)");
  }
  if (!present) std::cerr << "note: no " << coll << " collection, read as empty (optional)\n";
  auto column = [&](const std::string& field, bool used) {
    const std::string name = c.block + "_" + field;
    if (!used || !present) {
      df = df.Define(name, [] { return RVecF{}; });
      return;
    }
    const std::string col = coll + "_" + field;
    if (!df.HasColumn(col)) throw std::runtime_error(files + ": missing branch " + col);
    df = as_floats(df, name, col);
  };
  for (const char* f : {"pt", "eta", "phi", "mass"}) column(f, true);
  if (present) {
    auto cut_column = [&](const std::string& name, const std::string& branch) {
      if (branch.empty()) {
        df = df.Define(c.block + "_" + name, [] { return RVecF{}; });
        return;
      }
      const std::string col = coll + "_" + branch;
      if (col == "Jet_jetId") {
        df = jet_id_column(df, c.block + "_" + name, files);
        return;
      }
      if (!df.HasColumn(col)) throw std::runtime_error(files + ": missing branch " + col);
      df = as_floats(df, c.block + "_" + name, col);
    };
    cut_column("id", c.id_branch);
    cut_column("iso", c.iso_branch);
    cut_column("dxy", c.dxy_max ? "dxy" : "");
    cut_column("dz", c.dz_max ? "dz" : "");
  } else {
    for (const char* f : {"id", "iso", "dxy", "dz"}) column(f, false);
  }
  if (lepton) {
    const std::string col = coll + "_charge";
    if (!present) {
      df = df.Define(c.block + "_charge", [] { return RVecI{}; });
    } else if (!df.HasColumn(col)) {
      throw std::runtime_error(files + ": missing branch " + col);
    } else {
      df = as_ints(df, c.block + "_charge", col);
    }
  }
  const std::vector<std::string> cut_cols = {c.block + "_pt", c.block + "_eta", c.block + "_id",
                                             c.block + "_iso", c.block + "_dxy", c.block + "_dz"};
  auto mask = [c](bool loose) {
    return [c, loose](const RVecF& pt, const RVecF& eta, const RVecF& id, const RVecF& iso,
                      const RVecF& dxy, const RVecF& dz) {
      return pass_mask(c, ObjectColumns{pt, eta, id, iso, dxy, dz}, loose);
    };
  };
  df = df.Define(c.block + "_tight", mask(false), cut_cols);
  df = c.draw_pt_min ? df.Define(c.block + "_drawn", mask(true), cut_cols)
                     : df.Alias(c.block + "_drawn", c.block + "_tight");
  df = df.Define(c.block + "_bad",
                 [c](const RVecF& pt, const RVecF& eta, const RVecF& id, const RVecF& iso,
                     const RVecF& dxy, const RVecF& dz) {
                   return bad_values(c, ObjectColumns{pt, eta, id, iso, dxy, dz});
                 },
                 cut_cols);
  return df;
}

// finite_objects: every kept object finite in every given field.
template <typename... Columns>
bool finite_where(const RVecI& keep, const Columns&... columns) {
  for (std::size_t i = 0; i < keep.size(); ++i) {
    if (keep[i] && !(std::isfinite(columns[i]) && ...)) return false;
  }
  return true;
}

int run(int argc, char** argv) {
  std::vector<std::string> positional;
  unsigned threads = 1;
  std::size_t batch = 1024;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "-j" || a == "-b") && i + 1 < argc) {
      const std::string value = argv[++i];
      unsigned long v = 0;
      try {
        v = std::stoul(value);
      } catch (const std::exception&) {
      }
      if (v == 0) throw std::runtime_error(a + " needs a positive integer, got '" + value + "'");
      if (a == "-j") threads = static_cast<unsigned>(v);
      else batch = v;
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() < 3) {
    std::cerr << "usage: " << argv[0]
              << " MODEL.onnx OUTPUT.root NANOAOD.root [more.root ...] [-j THREADS] [-b BATCH]\n";
    return 2;
  }
  const std::string model_path = positional[0];
  const std::string output = positional[1];
  const std::vector<std::string> inputs(positional.begin() + 2, positional.end());
  std::string files;
  for (const auto& f : inputs) {
    std::unique_ptr<TFile> tf(TFile::Open(f.c_str(), "READ"));
    if (!tf || tf->IsZombie()) throw std::runtime_error(f + ": cannot open (missing or not ROOT)");
    if (!tf->Get<TTree>("Events")) throw std::runtime_error(f + ": no 'Events' tree");
    files += (files.empty() ? "" : ", ") + f;
  }
  if (threads > 1) ROOT::EnableImplicitMT(threads);

  ROOT::RDataFrame frame("Events", inputs);
  eventlens::ModelOptions options;
  options.slots = frame.GetNSlots();
  const eventlens::Model model(model_path, options);
  if (model.task() != "dtw") {
    throw std::runtime_error("this example implements the dtw selection; model " + model.name() +
                             " is for task '" + model.task() + "'");
  }
  if (!model.is_image()) throw std::runtime_error("model " + model.name() + " takes no images");
  const json sel = json::parse(model.card_json("/selection/config"));
  const Cuts el = read_cuts(sel.at("objects"), "electron");
  const Cuts mu = read_cuts(sel.at("objects"), "muon");
  const Cuts jet = read_cuts(sel.at("objects"), "jet");
  const json& params = sel.at("selection");
  const long min_leptons = params.value("min_leptons", 1L);
  const long max_leptons = params.contains("max_leptons") && !params["max_leptons"].is_null()
                               ? params["max_leptons"].get<long>()
                               : -1;
  const long min_jets = params.value("min_jets", 1L);
  const long min_btag = params.value("min_btag", 0L);
  const json& btag = sel.at("btag");
  const float btag_threshold = static_cast<float>(
      btag.at("working_points").at(btag.at("working_point").get<std::string>()).get<double>());
  const std::string btag_branch = btag.at("branch").get<std::string>();
  const json& mass_axis = sel.at("histograms").at("mass");

  ROOT::RDF::RNode df = frame;
  // MET: the first of met.collections the files have; Run 3 NanoAOD (PNet/UParT taggers,
  // or a jet ID to be derived) prefers PuppiMET when it is listed, as
  // eventlens.processors.flavour.met_order does.
  const bool run3 = df.HasColumn("Jet_btagUParTAK4B") || df.HasColumn("Jet_btagPNetB") ||
                    df.HasColumn("Photon_pfRelIso03_all_quadratic") ||
                    (!df.HasColumn("Jet_jetId") && df.HasColumn("Jet_neMultiplicity"));
  std::vector<std::string> met_candidates;
  for (const auto& name : sel.at("met").at("collections")) {
    met_candidates.push_back(name.get<std::string>());
  }
  const auto puppi = std::find(met_candidates.begin(), met_candidates.end(), "PuppiMET");
  if (run3 && puppi != met_candidates.end()) {
    std::rotate(met_candidates.begin(), puppi, puppi + 1);
  }
  std::string met;
  for (const auto& name : met_candidates) {
    if (df.HasColumn(name + "_pt")) {
      met = name;
      break;
    }
  }
  if (met.empty()) throw std::runtime_error(files + ": no MET collection (met.collections)");
  for (const char* b : {"run", "luminosityBlock", "event"}) {
    if (!df.HasColumn(b)) throw std::runtime_error(files + ": missing branch " + std::string(b));
  }
  df = df.Alias("met_pt", met + "_pt").Alias("met_phi", met + "_phi");
  df = df.HasColumn("genWeight") ? df.Define("w", [](float g) { return static_cast<double>(g); },
                                             {"genWeight"})
                                 : df.Define("w", [] { return 1.0; });  // data
  df = define_block(df, el, true, files);
  df = define_block(df, mu, true, files);
  df = define_block(df, jet, false, files);
  const std::string jet_btag_col = jet.collection + "_" + btag_branch;
  if (!df.HasColumn(jet_btag_col)) {
    throw std::runtime_error(files + ": missing branch " + jet_btag_col);
  }
  df = as_floats(df, "jet_btag", jet_btag_col);

  // Jets Delta-R-cleaned against the tight leptons (good_jets).
  df = df.Define("jet_clean",
                 [dr = jet.cleaning_dr](const RVecF& eta, const RVecF& phi, const RVecI& good,
                                        const RVecF& e_eta, const RVecF& e_phi,
                                        const RVecI& e_tight, const RVecF& m_eta,
                                        const RVecF& m_phi, const RVecI& m_tight) {
                   return clean_jets(eta, phi, good, dr, e_eta, e_phi, e_tight, m_eta, m_phi,
                                     m_tight);
                 },
                 {"jet_eta", "jet_phi", "jet_tight", "electron_eta", "electron_phi",
                  "electron_tight", "muon_eta", "muon_phi", "muon_tight"});

  auto selected =
      df.Filter([](double w) { return std::isfinite(w); }, {"w"}, "finite_weight")
          .Filter(
              [min_leptons, max_leptons](bool e_bad, bool m_bad, const RVecI& e, const RVecI& m) {
                const long n = static_cast<long>(ROOT::VecOps::Sum(e) + ROOT::VecOps::Sum(m));
                return !e_bad && !m_bad && n >= min_leptons &&
                       (max_leptons < 0 || n <= max_leptons);
              },
              {"electron_bad", "muon_bad", "electron_tight", "muon_tight"}, "leptons")
          .Filter([min_jets](bool bad, const RVecI& clean) {
                    return !bad && ROOT::VecOps::Sum(clean) >= min_jets;
                  },
                  {"jet_bad", "jet_clean"}, "min_jets")
          .Filter(
              [min_btag, btag_threshold](const RVecF& score, const RVecI& clean) {
                long n = 0;
                for (std::size_t j = 0; j < score.size(); ++j) {
                  n += clean[j] && score[j] >= btag_threshold;
                }
                return n >= min_btag;
              },
              {"jet_btag", "jet_clean"}, "min_btag")
          .Define("mass", dtw_mass,
                  {"electron_pt", "electron_eta", "electron_phi", "electron_mass",
                   "electron_charge", "electron_tight", "muon_pt", "muon_eta", "muon_phi",
                   "muon_mass", "muon_charge", "muon_tight", "met_pt", "met_phi"})
          .Filter(
              [](double m, float met_pt, float met_phi, const RVecF& e_pt, const RVecF& e_eta,
                 const RVecF& e_phi, const RVecF& e_m, const RVecI& e_drawn, const RVecF& m_pt,
                 const RVecF& m_eta, const RVecF& m_phi, const RVecF& m_m, const RVecI& m_drawn,
                 const RVecF& j_pt, const RVecF& j_eta, const RVecF& j_phi, const RVecF& j_m,
                 const RVecF& j_b, const RVecI& j_clean) {
                return std::isfinite(m) && std::isfinite(met_pt) && std::isfinite(met_phi) &&
                       finite_where(e_drawn, e_pt, e_eta, e_phi, e_m) &&
                       finite_where(m_drawn, m_pt, m_eta, m_phi, m_m) &&
                       finite_where(j_clean, j_pt, j_eta, j_phi, j_m, j_b);
              },
              {"mass", "met_pt", "met_phi", "electron_pt", "electron_eta", "electron_phi",
               "electron_mass", "electron_drawn", "muon_pt", "muon_eta", "muon_phi", "muon_mass",
               "muon_drawn", "jet_pt", "jet_eta", "jet_phi", "jet_mass", "jet_btag", "jet_clean"},
              "finite_objects");
  auto report = selected.Report();

  // Per-slot histograms and rows; merged after the loop.
  const std::size_t k = model.n_classes();
  const unsigned slots = model.slots();
  TH1::AddDirectory(false);
  std::vector<std::vector<std::unique_ptr<TH1D>>> hists(slots);
  for (auto& per_slot : hists) {
    for (const auto& cls : model.classes()) {
      per_slot.push_back(std::make_unique<TH1D>(
          ("mass_" + cls).c_str(), ("mass, predicted " + cls + ";mass [GeV];events").c_str(),
          mass_axis.at("bins").get<int>(), mass_axis.at("start").get<double>(),
          mass_axis.at("stop").get<double>()));
      per_slot.back()->Sumw2();
    }
  }
  std::vector<std::vector<Row>> rows(slots);
  eventlens::BatchPredictor<Payload> batches(
      model, batch, [&](unsigned slot, const Payload& p, const float* proba) {
        const std::size_t c = eventlens::Model::argmax(proba, k);
        hists[slot][c]->Fill(p.mass, p.weight);
        rows[slot].push_back(Row{p, static_cast<int>(c), std::vector<float>(proba, proba + k)});
      });

  const RVecF no_photons;
  const auto t0 = std::chrono::steady_clock::now();
  const std::clock_t cpu0 = std::clock();
  std::atomic<double> first_event_s{-1.0};  // opening the files, start of the loop
  selected.ForeachSlot(
      [&](unsigned slot, UInt_t run_, UInt_t lumi, ULong64_t event, double mass,
          double w, const RVecF& e_pt, const RVecF& e_eta, const RVecF& e_phi,
          const RVecI& e_drawn, const RVecF& m_pt, const RVecF& m_eta, const RVecF& m_phi,
          const RVecI& m_q, const RVecI& m_drawn, const RVecF& j_pt, const RVecF& j_eta,
          const RVecF& j_phi, const RVecF& j_b, const RVecI& j_clean, float met_pt,
          float met_phi) {
        if (first_event_s.load(std::memory_order_relaxed) < 0.0) {
          const auto now = std::chrono::steady_clock::now();
          first_event_s = std::chrono::duration<double>(now - t0).count();
        }
        batches.add(slot, Payload{run_, lumi, event, mass, w}, [&](float* image) {
          model.render(image, e_pt[e_drawn], e_eta[e_drawn], e_phi[e_drawn], m_pt[m_drawn],
                       m_eta[m_drawn], m_phi[m_drawn], m_q[m_drawn], no_photons, no_photons,
                       no_photons, j_pt[j_clean], j_eta[j_clean], j_phi[j_clean], j_b[j_clean],
                       met_pt, met_phi);
        });
      },
      {"run", "luminosityBlock", "event", "mass", "w", "electron_pt", "electron_eta",
       "electron_phi", "electron_drawn", "muon_pt", "muon_eta", "muon_phi", "muon_charge",
       "muon_drawn", "jet_pt", "jet_eta", "jet_phi", "jet_btag", "jet_clean", "met_pt",
       "met_phi"});
  batches.flush();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu_seconds = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;

  // Merge the slots; rows in (run, lumi, event) order so the output does not depend on threads.
  std::vector<std::size_t> per_slot;
  std::vector<Row> all;
  for (auto& r : rows) {
    per_slot.push_back(r.size());
    std::move(r.begin(), r.end(), std::back_inserter(all));
  }
  std::sort(all.begin(), all.end(), [](const Row& a, const Row& b) {
    return std::tie(a.ids.run, a.ids.lumi, a.ids.event) <
           std::tie(b.ids.run, b.ids.lumi, b.ids.event);
  });
  for (unsigned s = 1; s < slots; ++s) {
    for (std::size_t c = 0; c < k; ++c) hists[0][c]->Add(hists[s][c].get());
  }

  const std::string tmp = output + ".tmp";
  {
    TFile out(tmp.c_str(), "RECREATE");
    if (out.IsZombie()) throw std::runtime_error(output + ": cannot write");
    for (auto& h : hists[0]) h->Write();
    TTree tree("events", "per-event eventlens probabilities");
    UInt_t run_ = 0, lumi = 0;
    ULong64_t event = 0;
    double mass = 0, weight = 0;
    int predicted = 0;
    std::vector<float> proba(k);
    tree.Branch("run", &run_, "run/i");
    tree.Branch("luminosityBlock", &lumi, "luminosityBlock/i");
    tree.Branch("event", &event, "event/l");
    tree.Branch("mass", &mass, "mass/D");
    tree.Branch("weight", &weight, "weight/D");
    tree.Branch("predicted", &predicted, "predicted/I");
    const std::string leaf = "probabilities[" + std::to_string(k) + "]/F";
    tree.Branch("probabilities", proba.data(), leaf.c_str());
    for (const Row& r : all) {
      std::tie(run_, lumi, event, mass, weight) =
          std::make_tuple(r.ids.run, r.ids.lumi, r.ids.event, r.ids.mass, r.ids.weight);
      predicted = r.predicted;
      std::copy(r.probabilities.begin(), r.probabilities.end(), proba.begin());
      tree.Fill();
    }
    tree.Write();
    out.Close();
  }
  if (std::rename(tmp.c_str(), output.c_str()) != 0) {
    throw std::runtime_error("cannot rename " + tmp + " to " + output);
  }

  std::cout << "model " << model.name() << " (ONNX Runtime "
            << eventlens::Model::onnxruntime_version() << ", " << slots << " slot(s), batch "
            << batch << ")\n";
  report->Print();
  std::cout << "classified " << batches.n_done() << " events in " << seconds << " s (CPU "
            << cpu_seconds << " s, first selected event after " << first_event_s << " s)\n";
  std::cout << "events per slot:";
  for (std::size_t n : per_slot) std::cout << " " << n;
  std::cout << "\n";
  for (std::size_t c = 0; c < k; ++c) {
    std::cout << "predicted " << model.classes()[c] << ": " << hists[0][c]->GetEntries() << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& exc) {
    std::cerr << "error: " << exc.what() << "\n";
    return 1;
  }
}

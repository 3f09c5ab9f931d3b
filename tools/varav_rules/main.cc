// varav-rules: lints rule packs and runs their rule tests.
//
//   varav-rules lint DIR...   load each pack; print every problem as file:line:col: message
//   varav-rules test DIR...   load each pack and run DIR/tests/*.yaml; one PASS/FAIL line per test
//                             and a final "N passed, M failed"
//
// A pack that extends another is loaded after its base, which is looked up among the given
// directories and the sibling directories of each (rules/<pack>/). Exit status: 0 when everything
// is clean, 1 when a pack has errors or a test fails, 2 on a usage error.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/model/loader.h"
#include "engine/model/pack.h"
#include "engine/model/pack_tests.h"

namespace {

namespace fs = std::filesystem;
using varav::model::CompiledPack;
using varav::model::Diagnostic;
using varav::model::LoadResult;
using varav::model::PackHeader;
using varav::model::PackRegistry;

int Usage() {
  std::cerr << "usage: varav-rules lint DIR...\n"
               "       varav-rules test DIR...\n";
  return 2;
}

// Loads packs on demand, bases first, remembering every result.
class PackLoader {
 public:
  explicit PackLoader(const std::vector<std::string>& dirs) {
    std::set<fs::path> seen;
    auto add = [&](const fs::path& dir, bool given) {
      fs::path canonical = fs::weakly_canonical(dir);
      if (!seen.insert(canonical).second) return;
      absl::StatusOr<PackHeader> h = varav::model::ReadPackHeader(dir.string());
      if (!h.ok()) return;
      // Packs named on the command line win over siblings with the same key.
      if (given || !by_key_.contains(h->key())) by_key_[h->key()] = *h;
    };
    for (const std::string& d : dirs) add(d, true);
    for (const std::string& d : dirs) {
      std::error_code ec;
      fs::path parent = fs::path(d).lexically_normal().parent_path();
      if (parent.empty()) parent = ".";
      for (const fs::directory_entry& e : fs::directory_iterator(parent, ec)) {
        if (e.is_directory() && fs::exists(e.path() / "pack.yaml")) add(e.path(), false);
      }
    }
  }

  // Loads the pack in `dir`; its bases are loaded into the registry first.
  LoadResult Load(const std::string& dir) {
    absl::StatusOr<PackHeader> h = varav::model::ReadPackHeader(dir);
    if (h.ok() && !h->extends.empty()) LoadBase(h->extends, {h->key()});
    LoadResult r = varav::model::LoadPackDir(dir, &registry_);
    if (r.ok() && registry_.Find(r.pack->key()) == nullptr) {
      registry_.Add(r.pack).IgnoreError();  // checked just above
    }
    return r;
  }

 private:
  void LoadBase(const std::string& key, std::set<std::string> chain) {
    if (registry_.Find(key) != nullptr || !chain.insert(key).second) return;
    auto it = by_key_.find(key);
    if (it == by_key_.end()) return;  // the loader reports the missing base
    if (!it->second.extends.empty()) LoadBase(it->second.extends, chain);
    LoadResult r = varav::model::LoadPackDir(it->second.dir, &registry_);
    if (r.ok()) {
      registry_.Add(r.pack).IgnoreError();
    } else {
      for (const Diagnostic& d : r.diagnostics) {
        std::cout << d.ToString() << "  [base pack " << key << "]\n";
      }
    }
  }

  std::map<std::string, PackHeader> by_key_;
  PackRegistry registry_;
};

int Lint(const std::vector<std::string>& dirs) {
  PackLoader loader(dirs);
  int errors = 0;
  for (const std::string& dir : dirs) {
    LoadResult r = loader.Load(dir);
    for (const Diagnostic& d : r.diagnostics) std::cout << d.ToString() << "\n";
    errors += static_cast<int>(r.diagnostics.size());
    if (r.ok()) {
      std::cout << dir << ": ok (" << r.pack->key() << ", " << r.pack->proto().rules_size()
                << " rules, digest " << r.pack->digest() << ")\n";
    }
  }
  if (errors > 0) std::cout << errors << " error(s)\n";
  return errors == 0 ? 0 : 1;
}

int Test(const std::vector<std::string>& dirs) {
  PackLoader loader(dirs);
  int passed = 0;
  int failed = 0;
  int errors = 0;
  for (const std::string& dir : dirs) {
    LoadResult r = loader.Load(dir);
    for (const Diagnostic& d : r.diagnostics) std::cout << d.ToString() << "\n";
    errors += static_cast<int>(r.diagnostics.size());
    if (!r.ok()) continue;
    varav::model::PackTestReport report =
        varav::model::RunPackTestDir(*r.pack, (fs::path(dir) / "tests").string());
    for (const Diagnostic& d : report.diagnostics) std::cout << d.ToString() << "\n";
    errors += static_cast<int>(report.diagnostics.size());
    for (const varav::model::PackTestCase& c : report.cases) std::cout << c.Summary() << "\n";
    passed += report.passed();
    failed += report.failed();
  }
  std::cout << passed << " passed, " << failed << " failed";
  if (errors > 0) std::cout << ", " << errors << " error(s)";
  std::cout << "\n";
  return failed == 0 && errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return Usage();
  std::string command = argv[1];
  std::vector<std::string> dirs(argv + 2, argv + argc);
  if (command == "lint") return Lint(dirs);
  if (command == "test") return Test(dirs);
  return Usage();
}

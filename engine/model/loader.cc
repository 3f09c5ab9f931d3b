#include "engine/model/loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/common/status_macros.h"
#include "engine/model/activation.h"
#include "engine/model/internal/pack_source.h"
#include "engine/model/internal/yaml_util.h"

namespace varav::model {
namespace {

namespace fs = std::filesystem;

// Compiles one CEL text of a rule, reporting issues at their position in the YAML file.
std::shared_ptr<const cel::Program> CompileAt(const cel::Compiler& compiler,
                                              const std::string& text, const ScalarRef* ref,
                                              const Loc& fallback, absl::string_view rule_id,
                                              absl::string_view key, bool want_string,
                                              std::vector<Diagnostic>* diags) {
  cel::CompileResult r = compiler.Compile(text);
  auto report = [&](const cel::Issue& issue) {
    Loc loc = fallback;
    bool exact = false;
    if (ref != nullptr) {
      std::optional<Loc> mapped = ref->Map(issue.offset);
      if (mapped.has_value()) {
        loc = *mapped;
        exact = true;
      } else {
        loc = ref->loc;
      }
    }
    Diagnostic d{loc.file, loc.line, loc.column,
                 absl::StrCat("rule '", rule_id, "' ", key, ": ", issue.message), ""};
    if (!exact) {
      absl::StrAppend(&d.message, " (at ", key, " line ", issue.line, ", column ", issue.column,
                      ")");
      d.detail = cel::FormatIssues(text, {issue}, key);
    }
    diags->push_back(std::move(d));
  };
  if (!r.ok()) {
    for (const cel::Issue& issue : r.issues) report(issue);
    return nullptr;
  }
  const cel::Type& t = r.program->result_type();
  cel::Type::Kind want = want_string ? cel::Type::Kind::kString : cel::Type::Kind::kBool;
  if (t.kind() != want && t.kind() != cel::Type::Kind::kDyn) {
    report(
        cel::MakeIssue(text, 0,
                       absl::StrCat("expression must be of type ", want_string ? "string" : "bool",
                                    ", not ", t.DebugString())));
    return nullptr;
  }
  return r.program;
}

std::string ReadFileText(const fs::path& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot be read";
    return "";
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

LoadResult LoadPackFromSources(const std::vector<SourceFile>& files, const PackRegistry* bases) {
  LoadResult result;
  std::vector<Diagnostic>& diags = result.diagnostics;
  // Sources stay alive (and in place) while positions refer to them.
  std::vector<std::unique_ptr<Source>> sources;
  internal::RawPack raw;
  const SourceFile* manifest = nullptr;
  for (const SourceFile& f : files) {
    if (fs::path(f.path).filename() == "pack.yaml") {
      if (manifest != nullptr) {
        diags.push_back(
            Diagnostic{f.path, 1, 1,
                       absl::StrCat("a second pack.yaml (the first is ", manifest->path, ")"), ""});
        continue;
      }
      manifest = &f;
    }
  }
  for (const SourceFile& f : files) {
    sources.push_back(std::make_unique<Source>(Source{f.path, f.content}));
    try {
      internal::ParsePackFile(*sources.back(), &f == manifest, &raw, &diags);
    } catch (const std::exception& e) {
      // yaml-cpp may throw from places the readers do not guard; never let it escape.
      diags.push_back(Diagnostic{f.path, 1, 1, absl::StrCat("cannot read: ", e.what()), ""});
    }
  }
  if (manifest == nullptr) {
    std::string dir = files.empty() ? "." : fs::path(files[0].path).parent_path().string();
    diags.push_back(
        Diagnostic{(fs::path(dir) / "pack.yaml").string(), 1, 1, "the pack has no pack.yaml", ""});
  }

  internal::PackResolver resolver(std::move(raw), bases, &diags);
  resolver.Resolve();
  v1::RulePack& pack = resolver.pack();

  std::vector<CompiledPack::CompiledRule> compiled;
  absl::StatusOr<std::shared_ptr<const cel::Env>> env = BuildEnv(pack);
  if (!env.ok()) {
    // Only reachable when schemas are malformed, which is reported above; keep a trace anyway.
    if (diags.empty()) {
      diags.push_back(Diagnostic{
          manifest ? manifest->path : "pack.yaml", 1, 1,
          absl::StrCat("cannot declare the pack's CEL types: ", env.status().message()), ""});
    }
  } else {
    cel::Compiler compiler(*env);
    Loc header_loc = resolver.header_info().loc;
    for (v1::Rule& rule : *pack.mutable_rules()) {
      const internal::EntryInfo* info = resolver.RuleInfo(rule.id());
      auto ref_of = [&](absl::string_view key) -> const ScalarRef* {
        if (info == nullptr) return nullptr;
        auto it = info->scalars.find(key);
        return it == info->scalars.end() ? nullptr : &it->second;
      };
      // Base rules have no position in this pack; they compiled in the base, and additions to
      // the environment cannot break them, but report at the manifest if they ever do.
      Loc fallback = info != nullptr ? info->At("expr") : resolver.header_info().At("extends");
      if (info == nullptr && fallback.file.empty()) fallback = header_loc;
      CompiledPack::CompiledRule cr;
      cr.program = CompileAt(compiler, rule.expr(), ref_of("expr"), fallback, rule.id(), "expr",
                             /*want_string=*/false, &diags);
      if (rule.has_message_expr()) {
        Loc mloc = info != nullptr ? info->At("message_expr") : fallback;
        cr.message_et = CompileAt(compiler, rule.message_expr().et(), ref_of("message_expr.et"),
                                  mloc, rule.id(), "message_expr.et", true, &diags);
        cr.message_en = CompileAt(compiler, rule.message_expr().en(), ref_of("message_expr.en"),
                                  mloc, rule.id(), "message_expr.en", true, &diags);
      }
      rule.clear_reads_outputs();
      if (cr.program != nullptr) {
        for (std::string& id : cr.program->FieldsSelected("outputs")) {
          rule.add_reads_outputs(std::move(id));
        }
      }
      compiled.push_back(std::move(cr));
    }
  }

  std::stable_sort(diags.begin(), diags.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
  });
  if (!diags.empty()) return result;
  result.pack = CompiledPack::Create(std::move(pack), *std::move(env), std::move(compiled));
  return result;
}

LoadResult LoadPackDir(absl::string_view dir, const PackRegistry* bases) {
  LoadResult result;
  fs::path root{std::string(dir)};
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    result.diagnostics.push_back(
        Diagnostic{std::string(dir), 1, 1, "not a directory of a rule pack", ""});
    return result;
  }
  std::vector<fs::path> paths;
  fs::path tests = root / "tests";
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory() && it->path() == tests) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && it->path().extension() == ".yaml") paths.push_back(it->path());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<SourceFile> files;
  for (const fs::path& p : paths) {
    std::string error;
    std::string text = ReadFileText(p, &error);
    if (!error.empty()) {
      result.diagnostics.push_back(Diagnostic{p.string(), 1, 1, error, ""});
      continue;
    }
    files.push_back(SourceFile{p.string(), std::move(text)});
  }
  if (files.empty() || !fs::exists(root / "pack.yaml")) {
    result.diagnostics.push_back(
        Diagnostic{(root / "pack.yaml").string(), 1, 1, "the pack has no pack.yaml", ""});
    return result;
  }
  if (!result.diagnostics.empty()) return result;
  return LoadPackFromSources(files, bases);
}

absl::StatusOr<std::shared_ptr<const CompiledPack>> LoadPack(absl::string_view dir,
                                                             const PackRegistry* bases) {
  LoadResult r = LoadPackDir(dir, bases);
  if (r.ok()) return r.pack;
  std::vector<std::string> lines;
  for (const Diagnostic& d : r.diagnostics) lines.push_back(d.ToString());
  return absl::InvalidArgumentError(absl::StrCat("rule pack ", dir, " has ", r.diagnostics.size(),
                                                 " error(s):\n", absl::StrJoin(lines, "\n")));
}

absl::StatusOr<PackHeader> ReadPackHeader(absl::string_view dir) {
  fs::path path = fs::path(std::string(dir)) / "pack.yaml";
  std::string error;
  if (!fs::exists(path)) return absl::NotFoundError(absl::StrCat(path.string(), " does not exist"));
  std::string text = ReadFileText(path, &error);
  if (!error.empty()) return absl::InvalidArgumentError(absl::StrCat(path.string(), " ", error));
  PackHeader h;
  h.dir = std::string(dir);
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsMap()) return absl::InvalidArgumentError(path.string() + " is not a mapping");
    auto get = [&](const char* key) -> std::string {
      YAML::Node n = root[key];
      return n && n.IsScalar() ? n.Scalar() : "";
    };
    h.id = get("id");
    h.version = get("version");
    h.extends = get("extends");
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.string(), ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
  }
  if (h.id.empty() || h.version.empty()) {
    return absl::InvalidArgumentError(path.string() + " lacks id or version");
  }
  return h;
}

absl::StatusOr<std::vector<PackHeader>> OrderByExtends(std::vector<PackHeader> headers) {
  std::sort(headers.begin(), headers.end(),
            [](const PackHeader& a, const PackHeader& b) { return a.key() < b.key(); });
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < headers.size(); ++i) index[headers[i].key()] = i;
  std::vector<PackHeader> out;
  std::vector<int> state(headers.size(), 0);  // 0 new, 1 visiting, 2 done
  std::function<absl::Status(size_t)> visit = [&](size_t i) -> absl::Status {
    if (state[i] == 2) return absl::OkStatus();
    if (state[i] == 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("packs extend each other in a cycle through ", headers[i].key()));
    }
    state[i] = 1;
    auto base = index.find(headers[i].extends);
    if (!headers[i].extends.empty() && base != index.end()) {
      VARAV_RETURN_IF_ERROR(visit(base->second));
    }
    state[i] = 2;
    out.push_back(headers[i]);
    return absl::OkStatus();
  };
  for (size_t i = 0; i < headers.size(); ++i) VARAV_RETURN_IF_ERROR(visit(i));
  return out;
}

absl::Status LoadBundledPacks(absl::string_view rules_dir, PackRegistry* registry) {
  std::vector<PackHeader> headers;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(std::string(rules_dir), ec)) {
    if (!e.is_directory() || !fs::exists(e.path() / "pack.yaml")) continue;
    VARAV_ASSIGN_OR_RETURN(PackHeader h, ReadPackHeader(e.path().string()));
    headers.push_back(std::move(h));
  }
  if (ec) {
    return absl::NotFoundError(absl::StrCat("cannot list ", rules_dir, ": ", ec.message()));
  }
  VARAV_ASSIGN_OR_RETURN(std::vector<PackHeader> ordered, OrderByExtends(std::move(headers)));
  for (const PackHeader& h : ordered) {
    VARAV_ASSIGN_OR_RETURN(std::shared_ptr<const CompiledPack> pack, LoadPack(h.dir, registry));
    VARAV_RETURN_IF_ERROR(registry->Add(std::move(pack)));
  }
  return absl::OkStatus();
}

}  // namespace varav::model

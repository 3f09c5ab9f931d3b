#include "engine/model/internal/yaml_util.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace varav::model {
namespace {

// Number of UTF-8 code points in text[begin, end).
int CodePoints(const std::string& text, size_t begin, size_t end) {
  int n = 0;
  for (size_t i = begin; i < end && i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::string Words(const std::vector<std::pair<absl::string_view, int>>& table) {
  std::vector<absl::string_view> words;
  for (const auto& [w, v] : table) words.push_back(w);
  return absl::StrJoin(words, ", ");
}

}  // namespace

std::string Loc::ToString() const { return absl::StrCat(file, ":", line, ":", column); }

Loc Source::LocAtByte(size_t pos) const {
  pos = std::min(pos, text.size());
  size_t line_start = pos == 0 ? 0 : text.rfind('\n', pos - 1);
  line_start = line_start == std::string::npos ? 0 : (pos == 0 ? 0 : line_start + 1);
  int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + pos, '\n'));
  return Loc{path, line, CodePoints(text, line_start, pos) + 1};
}

Loc Source::LocOf(const YAML::Mark& mark) const {
  if (mark.pos < 0 || static_cast<size_t>(mark.pos) > text.size()) {
    return Loc{path, std::max(mark.line, 0) + 1, std::max(mark.column, 0) + 1};
  }
  return LocAtByte(static_cast<size_t>(mark.pos));
}

std::optional<Loc> ScalarRef::Map(int32_t offset) const {
  if (source == nullptr || offset < 0 || static_cast<size_t>(offset) > value.size()) {
    return std::nullopt;
  }
  const std::string& text = source->text;
  if (pos >= text.size()) return std::nullopt;
  const size_t off = static_cast<size_t>(offset);
  const char indicator = text[pos];
  if (indicator != '|' && indicator != '>') {
    size_t start = (indicator == '\'' || indicator == '"') ? pos + 1 : pos;
    if (start + off <= text.size() && text.compare(start, off, value, 0, off) == 0) {
      return source->LocAtByte(start + off);
    }
    return std::nullopt;
  }
  // A block scalar: its content lines follow the indicator line, all at one indentation.
  size_t nl = text.find('\n', pos);
  if (nl == std::string::npos) return std::nullopt;
  std::vector<std::pair<size_t, size_t>> segments;  // file offset and length of each line
  size_t indent = std::string::npos;
  for (size_t line_start = nl + 1; line_start < text.size();) {
    size_t end = text.find('\n', line_start);
    if (end == std::string::npos) end = text.size();
    size_t len = end - line_start;
    if (len > 0 && text[end - 1] == '\r') --len;
    absl::string_view line(text.data() + line_start, len);
    size_t spaces = line.find_first_not_of(' ');
    if (spaces == absl::string_view::npos) break;  // a blank line ends what is mapped
    if (indent == std::string::npos) indent = spaces;
    if (spaces < indent) break;
    if (spaces > indent && indicator == '>') return std::nullopt;  // kept line breaks
    segments.emplace_back(line_start + indent, len - indent);
    line_start = end + 1;
  }
  const char separator = indicator == '|' ? '\n' : ' ';
  size_t cur = 0;
  for (const auto& [file_pos, len] : segments) {
    if (cur + len > value.size() || value.compare(cur, len, text, file_pos, len) != 0) {
      return std::nullopt;
    }
    if (off <= cur + len) return source->LocAtByte(file_pos + (off - cur));
    cur += len;
    if (cur >= value.size() || value[cur] != separator) return std::nullopt;
    ++cur;
  }
  return std::nullopt;
}

bool YamlReader::Load(YAML::Node* root) {
  try {
    *root = YAML::Load(source_.text);
    return true;
  } catch (const YAML::Exception& e) {
    ErrorAt(source_.LocOf(e.mark), absl::StrCat("YAML syntax error: ", e.msg));
    return false;
  } catch (const std::exception& e) {
    ErrorAt(Loc{source_.path, 1, 1}, absl::StrCat("cannot read YAML: ", e.what()));
    return false;
  }
}

Loc YamlReader::LocOf(const YAML::Node& node) const {
  const YAML::Mark mark = node.Mark();
  if (mark.pos < 0 && fallback_.line > 0) return fallback_;
  return source_.LocOf(mark);
}

Loc YamlReader::LocOf(const Field& field) const {
  return field.value.IsNull() ? LocOf(field.key) : LocOf(field.value);
}

void YamlReader::ErrorAt(const Loc& loc, std::string message) {
  diags_->push_back(Diagnostic{loc.file, loc.line, loc.column, std::move(message), ""});
}

std::string YamlReader::KeyName(const Field& f) {
  return f.key.IsScalar() ? f.key.Scalar() : std::string("value");
}

bool YamlReader::ReadMap(const YAML::Node& node, absl::string_view kind,
                         const std::vector<absl::string_view>& allowed,
                         const std::vector<absl::string_view>& required, MapFields* out) {
  if (!node.IsMap()) {
    Error(node, absl::StrCat(kind, " must be a mapping"));
    return false;
  }
  out->loc = LocOf(node);
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node k = it->first;
    if (!k.IsScalar()) {
      Error(k, absl::StrCat("keys of ", kind, " must be plain words"));
      continue;
    }
    std::string key = k.Scalar();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      Error(k, absl::StrCat("unknown key '", key, "' in ", kind,
                            " (expected one of: ", absl::StrJoin(allowed, ", "), ")"));
      continue;
    }
    if (out->by_key.contains(key)) {
      Error(k, absl::StrCat("duplicate key '", key, "' in ", kind));
      continue;
    }
    out->by_key.emplace(key, Field{k, it->second});
    out->order.push_back(key);
  }
  std::string label(kind);
  if (const Field* id = out->Get("id"); id != nullptr && id->value.IsScalar()) {
    label = absl::StrCat(kind, " '", id->value.Scalar(), "'");
  }
  for (absl::string_view r : required) {
    if (!out->by_key.contains(r)) {
      ErrorAt(out->loc, absl::StrCat(label, " is missing required key '", r, "'"));
    }
  }
  return true;
}

bool YamlReader::ExpectScalar(const Field& f, absl::string_view what) {
  if (f.value.IsNull()) {
    Error(f.key, absl::StrCat("'", KeyName(f), "' needs a value"));
    return false;
  }
  if (!f.value.IsScalar()) {
    Error(f.value, absl::StrCat("'", KeyName(f), "' must be ", what));
    return false;
  }
  return true;
}

bool YamlReader::ReadString(const Field& f, std::string* out) {
  if (!ExpectScalar(f, "a string")) return false;
  *out = f.value.Scalar();
  return true;
}

bool YamlReader::ReadInt(const Field& f, int64_t* out) {
  if (!ExpectScalar(f, "an integer")) return false;
  if (!absl::SimpleAtoi(f.value.Scalar(), out)) {
    Error(f.value, absl::StrCat("'", KeyName(f), "' must be an integer"));
    return false;
  }
  return true;
}

bool YamlReader::ReadDouble(const Field& f, double* out) {
  if (!ExpectScalar(f, "a number")) return false;
  if (!absl::SimpleAtod(f.value.Scalar(), out) || !std::isfinite(*out)) {
    Error(f.value, absl::StrCat("'", KeyName(f), "' must be a number"));
    return false;
  }
  return true;
}

bool YamlReader::ReadBool(const Field& f, bool* out) {
  if (!ExpectScalar(f, "true or false")) return false;
  const std::string& s = f.value.Scalar();
  if (s == "true" || s == "True" || s == "TRUE") {
    *out = true;
  } else if (s == "false" || s == "False" || s == "FALSE") {
    *out = false;
  } else {
    Error(f.value, absl::StrCat("'", KeyName(f), "' must be true or false"));
    return false;
  }
  return true;
}

bool YamlReader::ReadText(const Field& f, v1::LocalizedText* out, MapFields* fields) {
  if (f.value.IsNull()) {
    Error(f.key, absl::StrCat("'", KeyName(f), "' needs a value"));
    return false;
  }
  if (!f.value.IsMap()) {
    Error(f.value, absl::StrCat("'", KeyName(f), "' must be a text: {et: \"...\", en: \"...\"}"));
    return false;
  }
  MapFields local;
  MapFields& m = fields != nullptr ? *fields : local;
  size_t before = diags_->size();
  ReadMap(f.value, absl::StrCat("'", KeyName(f), "'"), {"et", "en"}, {"et", "en"}, &m);
  if (const Field* et = m.Get("et")) ReadString(*et, out->mutable_et());
  if (const Field* en = m.Get("en")) ReadString(*en, out->mutable_en());
  return diags_->size() == before;
}

bool YamlReader::ReadStringList(const Field& f,
                                google::protobuf::RepeatedPtrField<std::string>* out,
                                std::vector<YAML::Node>* nodes) {
  if (!ExpectList(f)) return false;
  bool ok = true;
  for (const YAML::Node& item : f.value) {
    if (!item.IsScalar()) {
      Error(item, absl::StrCat("items of '", KeyName(f), "' must be strings"));
      ok = false;
      continue;
    }
    out->Add(std::string(item.Scalar()));
    if (nodes != nullptr) nodes->push_back(item);
  }
  return ok;
}

bool YamlReader::ReadEnum(const Field& f,
                          const std::vector<std::pair<absl::string_view, int>>& table, int* out) {
  std::string word;
  if (!ReadString(f, &word)) return false;
  return LookupEnum(f.value, word, table, out);
}

bool YamlReader::LookupEnum(const YAML::Node& at, absl::string_view word,
                            const std::vector<std::pair<absl::string_view, int>>& table, int* out) {
  for (const auto& [w, v] : table) {
    if (w == word) {
      *out = v;
      return true;
    }
  }
  Error(at, absl::StrCat("'", word, "' is not one of: ", Words(table)));
  return false;
}

bool YamlReader::ExpectList(const Field& f) {
  if (f.value.IsNull()) {
    Error(f.key, absl::StrCat("'", KeyName(f), "' needs a value"));
    return false;
  }
  if (!f.value.IsSequence()) {
    Error(f.value, absl::StrCat("'", KeyName(f), "' must be a list"));
    return false;
  }
  return true;
}

ScalarRef YamlReader::Ref(const Field& f) const {
  ScalarRef r;
  r.source = &source_;
  const YAML::Mark mark = f.value.Mark();
  r.pos = mark.pos < 0 ? source_.text.size() : static_cast<size_t>(mark.pos);
  r.value = f.value.IsScalar() ? f.value.Scalar() : "";
  r.loc = LocOf(f);
  return r;
}

}  // namespace varav::model

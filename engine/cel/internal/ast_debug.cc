#include "engine/cel/internal/ast_debug.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/cel/internal/lexer.h"

namespace varav::cel {
namespace {

// Quotes like Go's %q, which the reference debug format uses: common escapes, printable characters
// as they are, other bytes as \xNN.
std::string Quote(absl::string_view text) {
  std::string out = "\"";
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    const int32_t cp = DecodeUtf8(text, &pos);
    switch (cp) {
      case '\a':
        out += "\\a";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\v':
        out += "\\v";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '"':
        out += "\\\"";
        continue;
      default:
        break;
    }
    if (cp < 0) {
      absl::StrAppendFormat(&out, "\\x%02x", static_cast<unsigned char>(text[start]));
    } else if (cp < 0x20 || cp == 0x7F) {
      absl::StrAppendFormat(&out, "\\x%02x", cp);
    } else if (cp >= 0x80 && cp < 0xA0) {
      absl::StrAppendFormat(&out, "\\u%04x", cp);
    } else {
      out.append(text.data() + start, pos - start);
    }
  }
  out += "\"";
  return out;
}

// The shortest decimal rendering that reads back as the same double, in the style of Go's %v.
std::string FormatDouble(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  if (d == 0) return std::signbit(d) ? "-0" : "0";
  char buf[64];
  int digits = 1;
  for (; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof(buf), "%.*e", digits - 1, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  // buf is d.ddde[+-]XX; read the decimal exponent.
  const char* e = std::strchr(buf, 'e');
  const int exponent = std::atoi(e + 1);
  int eprec = 6;
  if (eprec > digits && digits >= exponent + 1) eprec = digits;
  if (exponent < -4 || exponent >= eprec) {
    return buf;
  }
  std::snprintf(buf, sizeof(buf), "%.*f", std::max(0, digits - 1 - exponent), d);
  return buf;
}

class Printer {
 public:
  explicit Printer(bool adorn) : adorn_(adorn) {}

  std::string Print(const Expr& e, int indent) {
    switch (e.kind) {
      case Expr::Kind::kConstant:
        return ConstantString(e.constant) + Adorn(ConstantKind(e.constant));
      case Expr::Kind::kIdent:
        return e.name + Adorn("*expr.Expr_IdentExpr");
      case Expr::Kind::kSelect:
        return absl::StrCat(Print(*e.operand, indent), ".", e.name,
                            e.test_only ? "~test-only~" : "", Adorn("*expr.Expr_SelectExpr"));
      case Expr::Kind::kCall: {
        std::string out;
        if (e.operand != nullptr) absl::StrAppend(&out, Print(*e.operand, indent), ".");
        absl::StrAppend(&out, e.name, "(", List(e.args, indent), ")", Adorn("*expr.Expr_CallExpr"));
        return out;
      }
      case Expr::Kind::kList:
        return absl::StrCat("[", List(e.args, indent), "]", Adorn("*expr.Expr_ListExpr"));
      case Expr::Kind::kMap:
      case Expr::Kind::kStruct: {
        std::vector<std::string> items;
        for (const Expr::Entry& entry : e.entries) {
          std::string key =
              e.kind == Expr::Kind::kMap ? Print(*entry.key, indent + 1) : entry.field;
          items.push_back(absl::StrCat(entry.optional ? "?" : "", key, adorn_ ? ":" : ": ",
                                       Print(*entry.value, indent + 1),
                                       Adorn("*expr.Expr_CreateStruct_Entry")));
        }
        return absl::StrCat(e.kind == Expr::Kind::kStruct ? e.name : "", "{", Items(items, indent),
                            "}", Adorn("*expr.Expr_StructExpr"));
      }
      case Expr::Kind::kComprehension: {
        if (!adorn_) {
          std::vector<std::string> parts = {e.iter_var};
          if (!e.iter_var2.empty()) parts.push_back(e.iter_var2);
          for (const Expr* p : {e.iter_range.get()}) parts.push_back(Print(*p, indent));
          parts.push_back(e.accu_var);
          for (const Expr* p :
               {e.accu_init.get(), e.loop_condition.get(), e.loop_step.get(), e.result.get()}) {
            parts.push_back(Print(*p, indent));
          }
          return absl::StrCat("__comprehension__(", absl::StrJoin(parts, ", "), ")");
        }
        const std::string pad(2 * (indent + 1), ' ');
        std::string out = "__comprehension__(\n";
        absl::StrAppend(&out, pad, "// Variable\n", pad, e.iter_var, ",\n");
        if (!e.iter_var2.empty()) {
          absl::StrAppend(&out, pad, "// Variable2\n", pad, e.iter_var2, ",\n");
        }
        absl::StrAppend(&out, pad, "// Target\n", pad, Print(*e.iter_range, indent + 1), ",\n");
        absl::StrAppend(&out, pad, "// Accumulator\n", pad, e.accu_var, ",\n");
        absl::StrAppend(&out, pad, "// Init\n", pad, Print(*e.accu_init, indent + 1), ",\n");
        absl::StrAppend(&out, pad, "// LoopCondition\n", pad, Print(*e.loop_condition, indent + 1),
                        ",\n");
        absl::StrAppend(&out, pad, "// LoopStep\n", pad, Print(*e.loop_step, indent + 1), ",\n");
        absl::StrAppend(&out, pad, "// Result\n", pad, Print(*e.result, indent + 1), ")",
                        Adorn("*expr.Expr_ComprehensionExpr"));
        return out;
      }
    }
    return "?";
  }

 private:
  std::string Adorn(absl::string_view kind) const {
    return adorn_ ? absl::StrCat("^#", kind, "#") : "";
  }

  static absl::string_view ConstantKind(const Constant& c) {
    switch (c.index()) {
      case 0:
        return "*expr.Constant_NullValue";
      case 1:
        return "*expr.Constant_BoolValue";
      case 2:
        return "*expr.Constant_Int64Value";
      case 3:
        return "*expr.Constant_Uint64Value";
      case 4:
        return "*expr.Constant_DoubleValue";
      case 5:
        return "*expr.Constant_StringValue";
      default:
        return "*expr.Constant_BytesValue";
    }
  }

  std::string List(const std::vector<ExprPtr>& exprs, int indent) {
    std::vector<std::string> items;
    for (const ExprPtr& e : exprs) items.push_back(Print(*e, indent + 1));
    return Items(items, indent);
  }

  std::string Items(const std::vector<std::string>& items, int indent) const {
    if (items.empty()) return "";
    if (!adorn_) return absl::StrJoin(items, ", ");
    const std::string pad(2 * (indent + 1), ' ');
    std::string out = "\n";
    for (size_t i = 0; i < items.size(); ++i) {
      absl::StrAppend(&out, pad, items[i], i + 1 < items.size() ? ",\n" : "\n");
    }
    absl::StrAppend(&out, std::string(2 * indent, ' '));
    return out;
  }

  bool adorn_;
};

}  // namespace

std::string ConstantString(const Constant& constant) {
  switch (constant.index()) {
    case 0:
      return "null";
    case 1:
      return std::get<bool>(constant) ? "true" : "false";
    case 2:
      return absl::StrCat(std::get<int64_t>(constant));
    case 3:
      return absl::StrCat(std::get<uint64_t>(constant), "u");
    case 4:
      return FormatDouble(std::get<double>(constant));
    case 5:
      return Quote(std::get<std::string>(constant));
    default:
      return absl::StrCat("b", Quote(std::get<Bytes>(constant).value));
  }
}

std::string CompactString(const Expr& expr) { return Printer(/*adorn=*/false).Print(expr, 0); }

std::string DebugString(const Expr& expr) { return Printer(/*adorn=*/true).Print(expr, 0); }

}  // namespace varav::cel

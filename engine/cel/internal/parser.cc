#include "engine/cel/internal/parser.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <iterator>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "engine/cel/internal/lexer.h"

namespace varav::cel {
namespace {

// The accumulator of every macro expansion. '@' cannot start an identifier, so the name never
// clashes with a variable the author wrote.
constexpr absl::string_view kAccumulator = "@result";

// Whatever limit the caller sets, the descent never recurses deeper than this, so that no input can
// exhaust the stack (each level costs a handful of small frames).
constexpr int32_t kMaxRecursion = 1000;

// Enough to show the author every independent problem; past this the rest are usually echoes.
constexpr size_t kMaxIssues = 100;

constexpr absl::string_view kExpectingExpression =
    "{'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, "
    "BYTES, IDENTIFIER}";

struct PendingIssue {
  int32_t offset;
  std::string message;
};

class Parser {
 public:
  Parser(absl::string_view source, const Limits& limits)
      : source_(source),
        lexer_(source),
        max_depth_(std::max<int32_t>(1, limits.max_nesting_depth)),
        max_nodes_(std::max<int32_t>(1, limits.max_nodes)) {
    depth_.push_back(0);  // ids start at 1
  }

  ParseResult Run() {
    ParseResult result;
    result.ast.source = std::string(source_);
    ExprPtr root = ParseExpr();
    if (!aborted_ && root != nullptr && !At(TokenKind::kEof)) {
      SyntaxError(Peek(), "expecting <EOF>");
    }
    if (!aborted_) {
      // Collect the lexical errors of the rest of the input too.
      while (lexer_errors_seen_ < kMaxIssues && !At(TokenKind::kEof)) Advance();
    }
    for (const LexError& e : lexer_.errors()) {
      issues_.push_back(PendingIssue{e.offset, e.message});
    }
    std::stable_sort(
        issues_.begin(), issues_.end(),
        [](const PendingIssue& a, const PendingIssue& b) { return a.offset < b.offset; });
    if (issues_.size() > kMaxIssues) issues_.resize(kMaxIssues);
    for (PendingIssue& issue : issues_) {
      result.issues.push_back(MakeIssue(source_, issue.offset, std::move(issue.message)));
    }
    if (result.issues.empty()) {
      result.ast.root = std::move(root);
      result.ast.macro_calls = std::move(macro_calls_);
    }
    result.ast.node_count = next_id_ - 1;
    return result;
  }

 private:
  // ---- Tokens ----

  const Token& Peek(size_t k = 0) {
    while (lookahead_.size() <= k) {
      lookahead_.push_back(lexer_.Next());
      lexer_errors_seen_ = lexer_.errors().size();
    }
    return lookahead_[k];
  }
  Token Advance() {
    Peek();
    Token t = std::move(lookahead_.front());
    lookahead_.pop_front();
    return t;
  }
  bool At(TokenKind kind) { return Peek().kind == kind; }
  bool Accept(TokenKind kind) {
    if (!At(kind)) return false;
    Advance();
    return true;
  }

  std::string Describe(const Token& t) {
    if (t.kind == TokenKind::kEof) return "<EOF>";
    absl::string_view text = lexer_.TextOf(t);
    if (text.size() > 40) return absl::StrCat(text.substr(0, 40), "...");
    return std::string(text);
  }

  // ---- Issues ----

  void AddIssue(int32_t offset, std::string message) {
    if (issues_.size() >= kMaxIssues) {
      aborted_ = true;
      return;
    }
    issues_.push_back(PendingIssue{offset, std::move(message)});
  }

  // One syntax error per position: after a mistake the same token tends to be complained about by
  // every enclosing rule.
  void SyntaxError(const Token& at, absl::string_view expecting) {
    if (at.offset <= last_syntax_error_) return;
    last_syntax_error_ = at.offset;
    AddIssue(at.offset,
             absl::StrCat("Syntax error: mismatched input '", Describe(at), "' ", expecting));
  }

  void NestingError(int32_t offset) {
    if (!aborted_) {
      AddIssue(offset, absl::StrCat("expression nesting exceeds limit of ", max_depth_));
    }
    aborted_ = true;
  }

  bool Expect(TokenKind kind, absl::string_view spelled) {
    if (Accept(kind)) return true;
    SyntaxError(Peek(), absl::StrCat("expecting ", spelled));
    return false;
  }

  // ---- Nodes ----

  ExprPtr NewExpr(Expr::Kind kind, int32_t offset) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->offset = offset;
    e->id = NextId(offset);
    return e;
  }

  ExprId NextId(int32_t offset) {
    if (next_id_ > max_nodes_ && !aborted_) {
      AddIssue(offset, absl::StrCat("expression has more than ", max_nodes_, " nodes"));
      aborted_ = true;
    }
    depth_.push_back(1);
    return next_id_++;
  }

  int32_t DepthOf(const ExprPtr& e) const { return e == nullptr ? 0 : depth_[e->id]; }

  // Records the depth of `e` from its (complete) children and enforces the nesting limit on the
  // tree itself: later stages walk it recursively. Returns null when the limit is exceeded.
  ExprPtr Finish(ExprPtr e) {
    int32_t d = 0;
    d = std::max(d, DepthOf(e->operand));
    for (const ExprPtr& a : e->args) d = std::max(d, DepthOf(a));
    for (const Expr::Entry& entry : e->entries) {
      d = std::max({d, DepthOf(entry.key), DepthOf(entry.value)});
    }
    d = std::max({d, DepthOf(e->iter_range), DepthOf(e->accu_init), DepthOf(e->loop_condition),
                  DepthOf(e->loop_step), DepthOf(e->result)});
    depth_[e->id] = d + 1;
    if (d + 1 > max_depth_) {
      NestingError(e->offset);
      return nullptr;
    }
    if (aborted_) return nullptr;
    return e;
  }

  ExprPtr Constant(int32_t offset, varav::cel::Constant value) {
    ExprPtr e = NewExpr(Expr::Kind::kConstant, offset);
    e->constant = std::move(value);
    return e;
  }

  ExprPtr Ident(int32_t offset, std::string name) {
    ExprPtr e = NewExpr(Expr::Kind::kIdent, offset);
    e->name = std::move(name);
    return e;
  }

  ExprPtr Call(int32_t offset, absl::string_view function, std::vector<ExprPtr> args,
               ExprPtr target = nullptr) {
    ExprPtr e = NewExpr(Expr::Kind::kCall, offset);
    e->name = std::string(function);
    e->operand = std::move(target);
    e->args = std::move(args);
    return Finish(std::move(e));
  }

  ExprPtr Call2(int32_t offset, absl::string_view function, ExprPtr a, ExprPtr b) {
    std::vector<ExprPtr> args;
    args.push_back(std::move(a));
    args.push_back(std::move(b));
    return Call(offset, function, std::move(args));
  }

  // ---- Grammar ----
  // Each rule returns null after reporting a problem (or when parsing was aborted).

  // Expr = ConditionalOr ["?" ConditionalOr ":" Expr]
  ExprPtr ParseExpr() {
    if (aborted_) return nullptr;
    if (++recursion_ > std::min(max_depth_, kMaxRecursion)) {
      NestingError(Peek().offset);
      --recursion_;
      return nullptr;
    }
    ExprPtr e = ParseConditional();
    --recursion_;
    return e;
  }

  ExprPtr ParseConditional() {
    ExprPtr cond = ParseLogical(TokenKind::kOrOr);
    if (cond == nullptr || !At(TokenKind::kQuestion)) return cond;
    const int32_t op = Advance().offset;
    ExprPtr if_true = ParseLogical(TokenKind::kOrOr);
    if (if_true == nullptr) return nullptr;
    if (!Expect(TokenKind::kColon, "':'")) return nullptr;
    ExprPtr if_false = ParseExpr();
    if (if_false == nullptr) return nullptr;
    std::vector<ExprPtr> args;
    args.push_back(std::move(cond));
    args.push_back(std::move(if_true));
    args.push_back(std::move(if_false));
    return Call(op, op::kConditional, std::move(args));
  }

  // ConditionalOr and ConditionalAnd. `&&` and `||` are commutative in CEL, so a chain is built as
  // a balanced tree: a long chain then costs log(n) depth instead of n.
  ExprPtr ParseLogical(TokenKind op_kind) {
    const bool is_or = op_kind == TokenKind::kOrOr;
    auto operand = [&]() -> ExprPtr {
      return is_or ? ParseLogical(TokenKind::kAndAnd) : ParseRelation();
    };
    ExprPtr first = operand();
    if (first == nullptr || !At(op_kind)) return first;
    std::vector<ExprPtr> terms;
    std::vector<int32_t> ops;
    terms.push_back(std::move(first));
    while (At(op_kind)) {
      ops.push_back(Advance().offset);
      ExprPtr next = operand();
      if (next == nullptr) return nullptr;
      terms.push_back(std::move(next));
    }
    return Balance(is_or ? op::kLogicalOr : op::kLogicalAnd, terms, ops, 0,
                   static_cast<int>(ops.size()) - 1);
  }

  ExprPtr Balance(absl::string_view function, std::vector<ExprPtr>& terms,
                  const std::vector<int32_t>& ops, int lo, int hi) {
    const int mid = (lo + hi + 1) / 2;
    ExprPtr left = mid == lo ? std::move(terms[mid]) : Balance(function, terms, ops, lo, mid - 1);
    if (left == nullptr) return nullptr;
    ExprPtr right =
        mid == hi ? std::move(terms[mid + 1]) : Balance(function, terms, ops, mid + 1, hi);
    if (right == nullptr) return nullptr;
    return Call2(ops[mid], function, std::move(left), std::move(right));
  }

  static absl::string_view RelationName(TokenKind kind) {
    switch (kind) {
      case TokenKind::kLess:
        return op::kLess;
      case TokenKind::kLessEquals:
        return op::kLessEquals;
      case TokenKind::kGreater:
        return op::kGreater;
      case TokenKind::kGreaterEquals:
        return op::kGreaterEquals;
      case TokenKind::kEqualEqual:
        return op::kEquals;
      case TokenKind::kNotEqual:
        return op::kNotEquals;
      case TokenKind::kIn:
        return op::kIn;
      default:
        return {};
    }
  }

  // Relation, Addition and Multiplication: left-associative chains, built iteratively.
  ExprPtr ParseRelation() {
    ExprPtr lhs = ParseAddition();
    while (lhs != nullptr) {
      const absl::string_view name = RelationName(Peek().kind);
      if (name.empty()) break;
      const int32_t op = Advance().offset;
      ExprPtr rhs = ParseAddition();
      if (rhs == nullptr) return nullptr;
      lhs = Call2(op, name, std::move(lhs), std::move(rhs));
    }
    return lhs;
  }

  ExprPtr ParseAddition() {
    ExprPtr lhs = ParseMultiplication();
    while (lhs != nullptr && (At(TokenKind::kPlus) || At(TokenKind::kMinus))) {
      const Token op = Advance();
      ExprPtr rhs = ParseMultiplication();
      if (rhs == nullptr) return nullptr;
      lhs = Call2(op.offset, op.kind == TokenKind::kPlus ? op::kAdd : op::kSubtract, std::move(lhs),
                  std::move(rhs));
    }
    return lhs;
  }

  ExprPtr ParseMultiplication() {
    ExprPtr lhs = ParseUnary();
    while (lhs != nullptr &&
           (At(TokenKind::kStar) || At(TokenKind::kSlash) || At(TokenKind::kPercent))) {
      const Token op = Advance();
      absl::string_view name = op::kMultiply;
      if (op.kind == TokenKind::kSlash) name = op::kDivide;
      if (op.kind == TokenKind::kPercent) name = op::kModulo;
      ExprPtr rhs = ParseUnary();
      if (rhs == nullptr) return nullptr;
      lhs = Call2(op.offset, name, std::move(lhs), std::move(rhs));
    }
    return lhs;
  }

  // Unary = Member | "!" {"!"} Member | "-" {"-"} Member
  ExprPtr ParseUnary() {
    const TokenKind kind = Peek().kind;
    if (kind != TokenKind::kBang && kind != TokenKind::kMinus) return ParseMember();
    std::vector<int32_t> ops;
    while (At(kind)) {
      ops.push_back(Advance().offset);
      if (static_cast<int32_t>(ops.size()) > max_depth_) {
        NestingError(ops.back());
        return nullptr;
      }
    }
    ExprPtr operand;
    // A minus directly before a number literal is part of the literal, as in the lexis
    // (INT_LIT ::= -? DIGIT+): that is how -9223372036854775808 is written. A literal that is
    // followed by a selection or index stays an operand, as the grammar says.
    const TokenKind next = Peek().kind;
    const TokenKind after = Peek(1).kind;
    if (kind == TokenKind::kMinus && (next == TokenKind::kInt || next == TokenKind::kDouble) &&
        after != TokenKind::kDot && after != TokenKind::kLBracket) {
      const int32_t minus = ops.back();
      ops.pop_back();
      operand = NegativeLiteral(minus, Advance());
    } else {
      operand = ParseMember();
    }
    if (operand == nullptr) return nullptr;
    const absl::string_view name = kind == TokenKind::kBang ? op::kLogicalNot : op::kNegate;
    for (auto it = ops.rbegin(); it != ops.rend(); ++it) {
      std::vector<ExprPtr> args;
      args.push_back(std::move(operand));
      operand = Call(*it, name, std::move(args));
      if (operand == nullptr) return nullptr;
    }
    return operand;
  }

  ExprPtr NegativeLiteral(int32_t minus, const Token& t) {
    if (t.kind == TokenKind::kDouble) {
      if (!t.number_ok) AddIssue(t.offset, "invalid double literal");
      return Constant(minus, -t.double_value);
    }
    constexpr uint64_t kMinMagnitude = uint64_t{1} << 63;
    if (!t.number_ok || t.magnitude > kMinMagnitude) {
      AddIssue(t.offset, "invalid int literal");
      return Constant(minus, int64_t{0});
    }
    const int64_t value = t.magnitude == kMinMagnitude ? std::numeric_limits<int64_t>::min()
                                                       : -static_cast<int64_t>(t.magnitude);
    return Constant(minus, value);
  }

  // Member = Primary | Member "." IDENT ["(" [ExprList] ")"] | Member "[" Expr "]"
  //        | Member "{" [FieldInits] "}"
  ExprPtr ParseMember() {
    ExprPtr e = ParsePrimary();
    while (e != nullptr && !aborted_) {
      if (At(TokenKind::kDot)) {
        const int32_t dot = Advance().offset;
        if (At(TokenKind::kQuestion)) {
          AddIssue(dot, "unsupported syntax '.?'");
          Advance();
        }
        if (At(TokenKind::kIdent)) {
          Token name = Advance();
          if (At(TokenKind::kLParen)) {
            e = ParseReceiverCall(std::move(e), name);
          } else {
            e = Select(dot, std::move(e), std::move(name.text));
          }
        } else if (At(TokenKind::kQuotedIdent)) {
          e = Select(dot, std::move(e), Advance().text);
        } else {
          SyntaxError(Peek(), "expecting IDENTIFIER");
          return nullptr;
        }
      } else if (At(TokenKind::kLBracket)) {
        const int32_t open = Advance().offset;
        if (At(TokenKind::kQuestion)) {
          AddIssue(open, "unsupported syntax '[?'");
          Advance();
        }
        ExprPtr index = ParseExpr();
        if (index == nullptr) return nullptr;
        if (!Expect(TokenKind::kRBracket, "']'")) return nullptr;
        e = Call2(open, op::kIndex, std::move(e), std::move(index));
      } else if (At(TokenKind::kLBrace) && IsQualifiedName(*e)) {
        e = ParseStruct(std::move(e));
      } else {
        break;
      }
    }
    return e;
  }

  ExprPtr Select(int32_t dot, ExprPtr operand, std::string field) {
    ExprPtr e = NewExpr(Expr::Kind::kSelect, dot);
    e->operand = std::move(operand);
    e->name = std::move(field);
    return Finish(std::move(e));
  }

  static bool IsPlainName(absl::string_view name) {
    if (name.empty()) return false;
    for (char c : name) {
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_')) {
        return false;
      }
    }
    return true;
  }

  // True when `e` spells a (possibly qualified, possibly root-anchored) type name such as
  // `.a.b.C`: only such a member may be followed by a field-initializer list.
  static bool IsQualifiedName(const Expr& e) {
    const Expr* cur = &e;
    while (cur->kind == Expr::Kind::kSelect) {
      if (cur->test_only || !IsPlainName(cur->name)) return false;
      cur = cur->operand.get();
    }
    return cur->kind == Expr::Kind::kIdent;
  }

  static std::string QualifiedName(const Expr& e) {
    if (e.kind == Expr::Kind::kIdent) return e.name;
    return absl::StrCat(QualifiedName(*e.operand), ".", e.name);
  }

  static int32_t NameOffset(const Expr& e) {
    const Expr* cur = &e;
    while (cur->kind == Expr::Kind::kSelect) cur = cur->operand.get();
    return cur->offset;
  }

  // Parses `elem {"," elem} [","] close` (the opening token already consumed), recovering at the
  // next comma or closing token after a bad element so that later elements are still checked.
  // Returns false if anything went wrong.
  bool ParseSequence(TokenKind close, absl::string_view close_spelled, bool trailing_comma,
                     absl::FunctionRef<bool()> elem) {
    if (Accept(close)) return true;
    bool ok = true;
    while (!aborted_) {
      if (!elem()) {
        ok = false;
        if (aborted_) return false;
        SkipToSeparator(close);
      }
      if (Accept(TokenKind::kComma)) {
        if (trailing_comma && Accept(close)) return ok;
        continue;
      }
      if (Accept(close)) return ok;
      SyntaxError(Peek(), absl::StrCat("expecting {',', ", close_spelled, "}"));
      SkipToSeparator(close);
      if (Accept(TokenKind::kComma)) {
        ok = false;
        continue;
      }
      Accept(close);
      return false;
    }
    return false;
  }

  // Skips to the next `,` or `close` that is not nested in brackets, or to a closing bracket that
  // belongs to an enclosing construct.
  void SkipToSeparator(TokenKind close) {
    int nesting = 0;
    while (!At(TokenKind::kEof)) {
      const TokenKind k = Peek().kind;
      if (nesting == 0 && (k == TokenKind::kComma || k == close)) return;
      if (k == TokenKind::kLParen || k == TokenKind::kLBracket || k == TokenKind::kLBrace) {
        ++nesting;
      } else if (k == TokenKind::kRParen || k == TokenKind::kRBracket || k == TokenKind::kRBrace) {
        if (nesting == 0) return;
        --nesting;
      }
      Advance();
    }
  }

  bool ParseArgs(std::vector<ExprPtr>* args) {
    Advance();  // '('
    return ParseSequence(TokenKind::kRParen, "')'", /*trailing_comma=*/false, [&]() {
      ExprPtr arg = ParseExpr();
      if (arg == nullptr) return false;
      args->push_back(std::move(arg));
      return true;
    });
  }

  ExprPtr ParseStruct(ExprPtr type_name) {
    const int32_t offset = NameOffset(*type_name);
    ExprPtr e = NewExpr(Expr::Kind::kStruct, offset);
    e->name = QualifiedName(*type_name);
    type_name.reset();
    Advance();  // '{'
    const bool ok =
        ParseSequence(TokenKind::kRBrace, "'}'", /*trailing_comma=*/true, [&]() -> bool {
          if (At(TokenKind::kQuestion)) {
            AddIssue(Advance().offset, "unsupported syntax '?'");
          }
          if (!At(TokenKind::kIdent) && !At(TokenKind::kQuotedIdent)) {
            SyntaxError(Peek(), "expecting IDENTIFIER");
            return false;
          }
          Token field = Advance();
          if (!Expect(TokenKind::kColon, "':'")) return false;
          ExprPtr value = ParseExpr();
          if (value == nullptr) return false;
          Expr::Entry entry;
          entry.id = NextId(field.offset);
          entry.offset = field.offset;
          entry.field = std::move(field.text);
          entry.value = std::move(value);
          e->entries.push_back(std::move(entry));
          return true;
        });
    if (!ok) return nullptr;
    return Finish(std::move(e));
  }

  // Primary = ["."] IDENT ["(" [ExprList] ")"] | "(" Expr ")" | "[" [ExprList] "]"
  //         | "{" [MapInits] "}" | LITERAL
  ExprPtr ParsePrimary() {
    const Token& t = Peek();
    switch (t.kind) {
      case TokenKind::kDot: {
        const int32_t dot = Advance().offset;
        if (!At(TokenKind::kIdent)) {
          SyntaxError(Peek(), "expecting IDENTIFIER");
          return nullptr;
        }
        Token name = Advance();
        return IdentOrGlobalCall(dot, absl::StrCat(".", name.text), name.reserved);
      }
      case TokenKind::kIdent: {
        Token name = Advance();
        return IdentOrGlobalCall(name.offset, std::move(name.text), name.reserved);
      }
      case TokenKind::kLParen: {
        Advance();
        ExprPtr e = ParseExpr();
        if (e == nullptr) return nullptr;
        if (!Expect(TokenKind::kRParen, "')'")) return nullptr;
        return e;
      }
      case TokenKind::kLBracket:
        return ParseList();
      case TokenKind::kLBrace:
        return ParseMap();
      case TokenKind::kInt: {
        const Token lit = Advance();
        if (!lit.number_ok || lit.magnitude > uint64_t{std::numeric_limits<int64_t>::max()}) {
          AddIssue(lit.offset, "invalid int literal");
        }
        return Constant(lit.offset, static_cast<int64_t>(lit.magnitude));
      }
      case TokenKind::kUint: {
        const Token lit = Advance();
        if (!lit.number_ok) AddIssue(lit.offset, "invalid uint literal");
        return Constant(lit.offset, lit.magnitude);
      }
      case TokenKind::kDouble: {
        const Token lit = Advance();
        if (!lit.number_ok) AddIssue(lit.offset, "invalid double literal");
        return Constant(lit.offset, lit.double_value);
      }
      case TokenKind::kString: {
        Token lit = Advance();
        return Constant(lit.offset, std::move(lit.text));
      }
      case TokenKind::kBytes: {
        Token lit = Advance();
        return Constant(lit.offset, Bytes{std::move(lit.text)});
      }
      case TokenKind::kTrue:
        return Constant(Advance().offset, true);
      case TokenKind::kFalse:
        return Constant(Advance().offset, false);
      case TokenKind::kNull:
        return Constant(Advance().offset, NullLiteral{});
      default:
        SyntaxError(t, absl::StrCat("expecting ", kExpectingExpression));
        return nullptr;
    }
  }

  ExprPtr IdentOrGlobalCall(int32_t offset, std::string name, bool reserved) {
    if (reserved) {
      AddIssue(offset, absl::StrCat("reserved identifier: ", name));
    }
    if (!At(TokenKind::kLParen)) return Ident(offset, std::move(name));
    std::vector<ExprPtr> args;
    if (!ParseArgs(&args)) return nullptr;
    if (name == "has" && args.size() == 1) return ExpandHas(std::move(args[0]));
    return Call(offset, name, std::move(args));
  }

  ExprPtr ParseList() {
    ExprPtr e = NewExpr(Expr::Kind::kList, Advance().offset);
    const bool ok =
        ParseSequence(TokenKind::kRBracket, "']'", /*trailing_comma=*/true, [&]() -> bool {
          if (At(TokenKind::kQuestion)) {
            AddIssue(Advance().offset, "unsupported syntax '?'");
          }
          ExprPtr elem = ParseExpr();
          if (elem == nullptr) return false;
          e->args.push_back(std::move(elem));
          return true;
        });
    if (!ok) return nullptr;
    return Finish(std::move(e));
  }

  ExprPtr ParseMap() {
    ExprPtr e = NewExpr(Expr::Kind::kMap, Advance().offset);
    const bool ok =
        ParseSequence(TokenKind::kRBrace, "'}'", /*trailing_comma=*/true, [&]() -> bool {
          bool optional = false;
          if (At(TokenKind::kQuestion)) {
            AddIssue(Advance().offset, "unsupported syntax '?'");
            optional = true;
          }
          ExprPtr key = ParseExpr();
          if (key == nullptr) return false;
          const int32_t colon = Peek().offset;
          if (!Expect(TokenKind::kColon, "':'")) return false;
          ExprPtr value = ParseExpr();
          if (value == nullptr) return false;
          Expr::Entry entry;
          entry.id = NextId(colon);
          entry.offset = colon;
          entry.key = std::move(key);
          entry.value = std::move(value);
          entry.optional = optional;
          e->entries.push_back(std::move(entry));
          return true;
        });
    if (!ok) return nullptr;
    return Finish(std::move(e));
  }

  // ---- Macros ----

  ExprPtr ExpandHas(ExprPtr arg) {
    if (arg->kind != Expr::Kind::kSelect || arg->test_only) {
      AddIssue(arg->offset, "invalid argument to has() macro");
      return arg;  // keeps parsing going; the issue already fails the parse
    }
    arg->test_only = true;
    macro_calls_[arg->id] = "has";
    return arg;
  }

  ExprPtr ParseReceiverCall(ExprPtr target, const Token& name) {
    std::vector<ExprPtr> args;
    if (!ParseArgs(&args)) return nullptr;
    // `existsOne` is the newer spelling of `exists_one`; both expand the same way.
    const std::string fn = name.text == "existsOne" ? "exists_one" : name.text;
    const bool quantifier = fn == "all" || fn == "exists" || fn == "exists_one";
    const bool transform =
        fn == "transformList" || fn == "transformMap" || fn == "transformMapEntry";
    if ((quantifier && args.size() == 2) ||
        (fn == "map" && (args.size() == 2 || args.size() == 3)) ||
        (fn == "filter" && args.size() == 2)) {
      return ExpandComprehension(name.offset, fn, std::move(target), std::move(args),
                                 /*vars=*/1, quantifier ? kNotASimpleName : kNotAnIdentifier);
    }
    if ((quantifier && args.size() == 3) || (transform && (args.size() == 3 || args.size() == 4))) {
      return ExpandComprehension(name.offset, fn, std::move(target), std::move(args),
                                 /*vars=*/2, kNotASimpleName);
    }
    return Call(name.offset, name.text, std::move(args), std::move(target));
  }

  static constexpr absl::string_view kNotASimpleName = "argument must be a simple name";
  static constexpr absl::string_view kNotAnIdentifier = "argument is not an identifier";

  // Expands the comprehension macros exactly as the CEL specification (and, for the two-variable
  // forms, cel-go's comprehensions extension) define them. `args` starts with `vars` iteration
  // variables; the rest are the macro's predicate, or its optional filter and its transform.
  ExprPtr ExpandComprehension(int32_t offset, const std::string& macro, ExprPtr range,
                              std::vector<ExprPtr> args, size_t vars,
                              absl::string_view bad_variable) {
    std::string names[2];
    for (size_t i = 0; i < vars; ++i) {
      const Expr& var = *args[i];
      if (var.kind != Expr::Kind::kIdent || var.name.empty() || var.name[0] == '.') {
        AddIssue(var.offset, std::string(bad_variable));
        return range;  // keeps parsing going; the issue already fails the parse
      }
      names[i] = var.name;
    }
    if (vars == 2 && names[0] == names[1]) {
      // Both variables would be bound in one scope; the second would silently hide the first.
      AddIssue(args[1]->offset, absl::StrCat("duplicate variable name: ", names[1]));
      return range;
    }
    // The macro's own expressions: a predicate, or an optional filter followed by a transform.
    std::vector<ExprPtr> body(std::make_move_iterator(args.begin() + vars),
                              std::make_move_iterator(args.end()));
    const int32_t var_offset = args[0]->offset;

    auto accu = [&]() { return Ident(offset, std::string(kAccumulator)); };
    auto one = [&](ExprPtr e) {
      std::vector<ExprPtr> v;
      v.push_back(std::move(e));
      return v;
    };
    auto conditional = [&](ExprPtr cond, ExprPtr a, ExprPtr b) -> ExprPtr {
      if (cond == nullptr || a == nullptr || b == nullptr) return nullptr;
      std::vector<ExprPtr> v;
      v.push_back(std::move(cond));
      v.push_back(std::move(a));
      v.push_back(std::move(b));
      return Call(offset, op::kConditional, std::move(v));
    };
    // `filter ? step : @result` when the macro has a filter, else `step`.
    auto filtered = [&](ExprPtr filter, ExprPtr step) -> ExprPtr {
      if (filter == nullptr) return step;
      return conditional(std::move(filter), std::move(step), accu());
    };

    ExprPtr init, condition, step, result;
    if (macro == "all") {
      init = Constant(offset, true);
      condition = Call(offset, op::kNotStrictlyFalse, one(accu()));
      step = Call2(offset, op::kLogicalAnd, accu(), std::move(body[0]));
      result = accu();
    } else if (macro == "exists") {
      init = Constant(offset, false);
      ExprPtr not_accu = Call(offset, op::kLogicalNot, one(accu()));
      if (not_accu == nullptr) return nullptr;
      condition = Call(offset, op::kNotStrictlyFalse, one(std::move(not_accu)));
      step = Call2(offset, op::kLogicalOr, accu(), std::move(body[0]));
      result = accu();
    } else if (macro == "exists_one") {
      init = Constant(offset, int64_t{0});
      condition = Constant(offset, true);
      ExprPtr inc = Call2(offset, op::kAdd, accu(), Constant(offset, int64_t{1}));
      step = conditional(std::move(body[0]), std::move(inc), accu());
      result = Call2(offset, op::kEquals, accu(), Constant(offset, int64_t{1}));
    } else if (macro == "map" || macro == "filter" || macro == "transformList") {
      // @result + [transform], under the filter if there is one.
      init = Finish(NewExpr(Expr::Kind::kList, offset));
      condition = Constant(offset, true);
      ExprPtr filter, transform;
      if (macro == "filter") {
        filter = std::move(body[0]);
        transform = Ident(var_offset, names[0]);
      } else if (body.size() == 2) {
        filter = std::move(body[0]);
        transform = std::move(body[1]);
      } else {
        transform = std::move(body[0]);
      }
      ExprPtr list = NewExpr(Expr::Kind::kList, offset);
      list->args.push_back(std::move(transform));
      list = Finish(std::move(list));
      if (list == nullptr) return nullptr;
      step = filtered(std::move(filter), Call2(offset, op::kAdd, accu(), std::move(list)));
      result = accu();
    } else {  // transformMap, transformMapEntry
      // cel.@mapInsert(@result, key, transform) or cel.@mapInsert(@result, entries), under the
      // filter if there is one.
      ExprPtr filter, transform;
      if (body.size() == 2) {
        filter = std::move(body[0]);
        transform = std::move(body[1]);
      } else {
        transform = std::move(body[0]);
      }
      init = Finish(NewExpr(Expr::Kind::kMap, offset));
      condition = Constant(offset, true);
      std::vector<ExprPtr> insert_args;
      insert_args.push_back(accu());
      if (macro == "transformMap") insert_args.push_back(Ident(var_offset, names[0]));
      insert_args.push_back(std::move(transform));
      step = filtered(std::move(filter), Call(offset, op::kMapInsert, std::move(insert_args)));
      result = accu();
    }
    if (init == nullptr || condition == nullptr || step == nullptr || result == nullptr) {
      return nullptr;
    }
    ExprPtr e = NewExpr(Expr::Kind::kComprehension, offset);
    e->iter_var = std::move(names[0]);
    e->iter_var2 = std::move(names[1]);
    e->iter_range = std::move(range);
    e->accu_var = std::string(kAccumulator);
    e->accu_init = std::move(init);
    e->loop_condition = std::move(condition);
    e->loop_step = std::move(step);
    e->result = std::move(result);
    const ExprId id = e->id;
    e = Finish(std::move(e));
    if (e != nullptr) macro_calls_[id] = macro;
    return e;
  }

  absl::string_view source_;
  Lexer lexer_;
  std::deque<Token> lookahead_;
  size_t lexer_errors_seen_ = 0;
  const int32_t max_depth_;
  const int32_t max_nodes_;

  int32_t recursion_ = 0;
  bool aborted_ = false;  // a limit was exceeded: stop at once
  int32_t last_syntax_error_ = -1;
  std::vector<PendingIssue> issues_;

  ExprId next_id_ = 1;
  std::vector<int32_t> depth_;  // tree depth by node id
  absl::flat_hash_map<ExprId, std::string> macro_calls_;
};

}  // namespace

ParseResult Parse(absl::string_view source, const Limits& limits) {
  if (static_cast<int64_t>(source.size()) > limits.max_source_bytes) {
    ParseResult result;
    result.ast.source = std::string(source);
    result.issues.push_back(
        MakeIssue(source, 0,
                  absl::StrCat("expression of ", source.size(), " bytes exceeds the limit of ",
                               limits.max_source_bytes, " bytes")));
    return result;
  }
  return Parser(source, limits).Run();
}

}  // namespace varav::cel

// Unit tests of varavd's pure parts: the config file, listen-address checks, the principals file,
// token authentication and the JSON log escaper.
#include <string>

#include "engine/common/logging.h"
#include "engine/common/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/server/auth.h"
#include "services/server/config.h"

namespace varav::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST(ConfigTest, ParsesKeyValueLinesWithCommentsAndQuotes) {
  auto pairs = ParseConfigText(
      "# settings\n\n  listen = 0.0.0.0:50051  # public\ndata_dir=\"/var/lib/varav # data\"\n"
      "sync = false\n");
  ASSERT_TRUE(pairs.ok()) << pairs.status();
  EXPECT_THAT(*pairs,
              ElementsAre(Pair("listen", "0.0.0.0:50051"),
                          Pair("data_dir", "/var/lib/varav # data"), Pair("sync", "false")));
}

TEST(ConfigTest, RejectsALineWithoutEqualsNamingTheLine) {
  auto pairs = ParseConfigText("listen = x\njust words\n");
  EXPECT_EQ(pairs.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(pairs.status().message(), HasSubstr("line 2"));
  EXPECT_FALSE(ParseConfigText("a = \"open\n").ok());
  EXPECT_FALSE(ParseConfigText(" = 1\n").ok());
}

TEST(ConfigTest, FindsTheConfigArgumentInBothForms) {
  const char* a[] = {"varavd", "--listen=x", "--config=/etc/varavd.conf"};
  EXPECT_EQ(FindConfigArg(3, const_cast<char**>(a)), "/etc/varavd.conf");
  const char* b[] = {"varavd", "-config", "c.conf"};
  EXPECT_EQ(FindConfigArg(3, const_cast<char**>(b)), "c.conf");
  const char* c[] = {"varavd", "--", "--config=x"};
  EXPECT_EQ(FindConfigArg(3, const_cast<char**>(c)), "");
}

TEST(ConfigTest, RecognisesLoopbackListenAddresses) {
  for (const char* loopback :
       {"127.0.0.1:0", "127.1.2.3:50051", "localhost:1", "[::1]:50051", "unix:/run/varavd.sock"}) {
    auto r = IsLoopbackListenAddress(loopback);
    ASSERT_TRUE(r.ok()) << loopback;
    EXPECT_TRUE(*r) << loopback;
  }
  for (const char* remote : {"0.0.0.0:50051", "10.0.0.5:1", "[::]:50051", "varav.example:443"}) {
    auto r = IsLoopbackListenAddress(remote);
    ASSERT_TRUE(r.ok()) << remote;
    EXPECT_FALSE(*r) << remote;
  }
  EXPECT_FALSE(IsLoopbackListenAddress("127.0.0.1").ok());
  EXPECT_FALSE(IsLoopbackListenAddress("127.0.0.1:99999").ok());
}

TEST(ConfigTest, RefusesARemoteAddressWithoutTlsUnlessAllowed) {
  ServerOptions options{.listen = "0.0.0.0:50051", .principals_file = "p.yaml"};
  EXPECT_THAT(ValidateOptions(options).message(), HasSubstr("not a loopback address"));
  options.allow_insecure_remote = true;
  EXPECT_TRUE(ValidateOptions(options).ok());
  options.allow_insecure_remote = false;
  options.tls_cert = "c.pem";
  EXPECT_THAT(ValidateOptions(options).message(), HasSubstr("tls_key"));
  options.tls_key = "k.pem";
  EXPECT_TRUE(ValidateOptions(options).ok());
}

TEST(ConfigTest, RejectsANegativeSnapshotCacheSizeNamingTheSetting) {
  ServerOptions options{.principals_file = "p.yaml"};
  options.snapshot_cache_entries = -1;
  EXPECT_THAT(ValidateOptions(options).message(), HasSubstr("snapshot_cache_entries"));
  options.snapshot_cache_entries = 0;  // off
  EXPECT_TRUE(ValidateOptions(options).ok());
}

TEST(ConfigTest, RejectsOutOfRangeLimitsNamingTheSetting) {
  ServerOptions options{.principals_file = "p.yaml"};
  options.max_inflight = 0;
  EXPECT_THAT(ValidateOptions(options).message(), HasSubstr("max_inflight"));
  options = {.principals_file = "p.yaml", .max_message_bytes = 10};
  EXPECT_THAT(ValidateOptions(options).message(), HasSubstr("max_message_bytes"));
  options = {.principals_file = "p.yaml", .tls_client_ca = "ca.pem"};
  EXPECT_THAT(ValidateOptions(options).message(), HasSubstr("tls_client_ca"));
  options = {};
  EXPECT_THAT(ValidateOptions(options).message(), HasSubstr("principals_file"));
}

constexpr char kPrincipals[] = R"(
principals:
  - id: ska:mari
    agency: sotsiaalkindlustusamet
    roles: ["agency_editor:sotsiaalkindlustusamet", reader]
    token_sha256: [%s, %s]
  - id: mkm:panel
    agency: mkm
    roles: "panel_member:business_panel"
    client_cert_names: [panel.mkm.test]
)";

std::string PrincipalsText() {
  char buf[1024];
  std::snprintf(buf, sizeof(buf), kPrincipals, Sha256Hex("old-token").c_str(),
                Sha256Hex("new-token").c_str());
  return buf;
}

TEST(AuthTest, HashesWithSha256) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(AuthTest, AuthenticatesBearerTokensByTheirHash) {
  auto auth = Authenticator::FromYaml(PrincipalsText());
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ((*auth)->principal_count(), 2u);
  for (const char* header : {"Bearer old-token", "bearer new-token", "  Bearer   new-token "}) {
    auto p = (*auth)->FromAuthorization(header);
    ASSERT_TRUE(p.ok()) << header;
    EXPECT_EQ(p->id, "ska:mari");
    EXPECT_EQ(p->agency, "sotsiaalkindlustusamet");
    EXPECT_TRUE(p->MayEditAgency("sotsiaalkindlustusamet"));
  }
  for (const char* header : {"Bearer other", "Bearer ", "Basic b2xkLXRva2Vu", "old-token", ""}) {
    EXPECT_EQ((*auth)->FromAuthorization(header).status().code(),
              absl::StatusCode::kUnauthenticated)
        << header;
  }
}

TEST(AuthTest, MapsCertificateNamesToPrincipals) {
  auto auth = Authenticator::FromYaml(PrincipalsText());
  ASSERT_TRUE(auth.ok());
  auto p = (*auth)->FromCertificateNames({"unknown", "panel.mkm.test"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->id, "mkm:panel");
  EXPECT_TRUE(p->SitsOnPanel("business_panel"));
  EXPECT_EQ((*auth)->FromCertificateNames({"x"}).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(AuthTest, RejectsMalformedPrincipalsFilesNamingTheEntry) {
  const std::string hash = Sha256Hex("t");
  struct Case {
    std::string yaml;
    std::string message;
  } cases[] = {
      {"principals: {}", "principals"},
      {"principals:\n  - roles: [admin]\n    token_sha256: " + hash, "principals[0].id"},
      {"principals:\n  - id: a\n    token_sha256: " + hash, "principals[0].roles"},
      {"principals:\n  - id: a\n    roles: [wizard]\n    token_sha256: " + hash, "roles"},
      {"principals:\n  - id: a\n    roles: [admin]\n    token_sha256: abc", "64 hex"},
      {"principals:\n  - id: a\n    roles: [admin]", "token_sha256 or client_cert_names"},
      {"principals:\n  - id: a\n    roles: [admin]\n    token: secret", "unknown field"},
      {"principals:\n  - id: a\n    roles: [admin]\n    token_sha256: " + hash +
           "\n  - id: a\n    roles: [reader]\n    token_sha256: " + Sha256Hex("u"),
       "duplicate principal"},
      {"principals:\n  - id: a\n    roles: [admin]\n    token_sha256: " + hash +
           "\n  - id: b\n    roles: [reader]\n    token_sha256: " + hash,
       "listed twice"},
      {"principals: [", "principals"},
  };
  for (const Case& c : cases) {
    auto auth = Authenticator::FromYaml(c.yaml);
    EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_THAT(auth.status().message(), HasSubstr(c.message)) << c.yaml;
  }
}

TEST(AuthTest, GeneratesDistinctRandomTokens) {
  auto a = RandomHex(32);
  auto b = RandomHex(32);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 64u);
  EXPECT_NE(*a, *b);
}

TEST(LoggingTest, EscapesJsonStrings) {
  EXPECT_EQ(JsonEscape("plain"), "plain");
  EXPECT_EQ(JsonEscape("a\"b\\c"), "a\\\"b\\\\c");
  EXPECT_EQ(JsonEscape("line\nnext\ttab\r"), "line\\nnext\\ttab\\r");
  EXPECT_EQ(JsonEscape(std::string("\x01\x1f\x7f", 3)), "\\u0001\\u001f\\u007f");
  EXPECT_EQ(JsonEscape("Värav õige"), "Värav õige");
}

TEST(LoggingTest, BuildsOneJsonObjectPerLine) {
  const std::string line = LogLine("info", "call")
                               .Str("method", "m\"x")
                               .Int("port", 50051)
                               .Double("latency_ms", 1.5)
                               .Bool("tls", false)
                               .Text();
  EXPECT_THAT(line, HasSubstr("\"level\":\"info\",\"msg\":\"call\",\"method\":\"m\\\"x\","
                              "\"port\":50051,\"latency_ms\":1.500,\"tls\":false}"));
  EXPECT_EQ(line.rfind("{\"time\":\"", 0), 0u);
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace varav::server

// The native HTTP/1.1 transport's pieces without sockets (backends/http/http1.h): the response
// parser fed every possible split of its input, URL splitting and the request head. The
// transport itself meets real sockets in test_http_client.cpp.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "backends/http/http1.h"

using namespace v4eval::http;
using namespace v4eval::http::h1;

namespace {

// What the parser made of a response, fed in the given pieces the way the transport feeds it:
// whatever a call hands back unconsumed is put in front of the next piece.
struct Parsed {
  bool head = false, done = false, error = false;
  int status = 0;
  std::string body, error_message, content_type;
  std::optional<std::string> retry_after, retry_after_ms;
  bool keep_alive = false;
  std::string left;  // bytes after the response
  std::string eof;   // at_eof()'s verdict when the pieces ran out before the end
};

Parsed parse_pieces(const std::vector<std::string>& pieces, bool then_eof = false) {
  ResponseParser p;
  Parsed out;
  std::string pending;
  for (size_t i = 0; i < pieces.size() && !out.done && !out.error; ++i) {
    pending += pieces[i];
    std::string_view data = pending;
    while (true) {
      auto ev = p.next(data);
      if (ev.kind == ResponseParser::Kind::kNeedMore) break;
      if (ev.kind == ResponseParser::Kind::kHead) {
        out.head = true;
        out.status = p.head().status;
        out.content_type = p.head().content_type;
        out.retry_after = p.head().retry_after;
        out.retry_after_ms = p.head().retry_after_ms;
        continue;
      }
      if (ev.kind == ResponseParser::Kind::kBody) {
        REQUIRE(!ev.body.empty());
        out.body += ev.body;
        continue;
      }
      if (ev.kind == ResponseParser::Kind::kDone) {
        out.done = true;
        out.keep_alive = p.keep_alive();
        out.left = std::string(data);
        for (size_t j = i + 1; j < pieces.size(); ++j) out.left += pieces[j];
        break;
      }
      out.error = true;
      out.error_message = p.error();
      break;
    }
    pending = std::string(data);
  }
  if (then_eof && !out.done && !out.error) {
    out.eof = p.at_eof();
    out.done = out.eof.empty();
    out.keep_alive = p.keep_alive();
  }
  return out;
}

Parsed parse_split(const std::string& response, size_t at, bool then_eof = false) {
  return parse_pieces({response.substr(0, at), response.substr(at)}, then_eof);
}

Parsed parse_bytewise(const std::string& response, bool then_eof = false) {
  std::vector<std::string> pieces;
  for (char c : response) pieces.emplace_back(1, c);
  return parse_pieces(pieces, then_eof);
}

}  // namespace

TEST_CASE("http1 parser: Content-Length body split at every offset", "[http][http1]") {
  const std::string response =
      "HTTP/1.1 200 OK\r\nContent-Type:  application/json \r\nRetry-After: 3\r\n"
      "retry-after-ms: 250\r\nContent-Length: 11\r\n\r\nhello world";
  for (size_t at = 0; at <= response.size(); ++at) {
    CAPTURE(at);
    Parsed p = parse_split(response, at);
    REQUIRE(p.done);
    CHECK(p.status == 200);
    CHECK(p.body == "hello world");
    CHECK(p.content_type == "application/json");
    CHECK(p.retry_after == "3");
    CHECK(p.retry_after_ms == "250");
    CHECK(p.keep_alive);
    CHECK(p.left.empty());
  }
  Parsed bytewise = parse_bytewise(response);
  CHECK(bytewise.done);
  CHECK(bytewise.body == "hello world");
  // What follows the response is left alone (the transport then drops the connection).
  CHECK(parse_pieces({response + "HTTP/1.1 200"}).left == "HTTP/1.1 200");
}

TEST_CASE("http1 parser: chunked body with extensions and trailers, split at every offset",
          "[http][http1]") {
  const std::string response =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n"
      "5;name=value\r\nhello\r\n"
      "1 \r\n \r\n"
      "A;a=1;b=\"x\"\r\n0123456789\r\n"
      "0\r\nX-Trailer: yes\r\nOther: 1\r\n\r\n";
  for (size_t at = 0; at <= response.size(); ++at) {
    CAPTURE(at);
    Parsed p = parse_split(response, at);
    REQUIRE(p.done);
    CHECK(p.status == 200);
    CHECK(p.body == "hello 0123456789");
    CHECK(p.keep_alive);
    CHECK(p.left.empty());
  }
  for (size_t a = 0; a <= response.size(); a += 7)
    for (size_t b = a; b <= response.size(); b += 5) {
      Parsed p =
          parse_pieces({response.substr(0, a), response.substr(a, b - a), response.substr(b)});
      CHECK(p.done);
      CHECK(p.body == "hello 0123456789");
    }
  Parsed bytewise = parse_bytewise(response);
  CHECK(bytewise.done);
  CHECK(bytewise.body == "hello 0123456789");
  CHECK(bytewise.content_type == "text/event-stream");

  // Bare LF line ends, upper-case hex, no trailers.
  Parsed lf =
      parse_bytewise("HTTP/1.1 200 OK\nTransfer-Encoding: gzip, chunked\n\nB\nhello world\n0\n\n");
  CHECK(lf.done);
  CHECK(lf.body == "hello world");
}

TEST_CASE("http1 parser: a body delimited by the close", "[http][http1]") {
  const std::string response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end";
  for (size_t at = 0; at <= response.size(); ++at) {
    CAPTURE(at);
    Parsed open = parse_split(response, at);
    CHECK_FALSE(open.done);
    Parsed closed = parse_split(response, at, /*then_eof=*/true);
    REQUIRE(closed.done);
    CHECK(closed.body == "until the end");
    CHECK_FALSE(closed.keep_alive);
  }
  // A transfer coding other than chunked is delimited by the close too.
  Parsed coded = parse_pieces({"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz"}, true);
  CHECK(coded.done);
  CHECK(coded.body == "zz");
  CHECK_FALSE(coded.keep_alive);
}

TEST_CASE("http1 parser: interim 100 Continue heads are skipped", "[http][http1]") {
  const std::string response =
      "HTTP/1.1 100 Continue\r\nRetry-After: 9\r\n\r\n"
      "HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
      "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
  for (size_t at = 0; at <= response.size(); ++at) {
    CAPTURE(at);
    Parsed p = parse_split(response, at);
    REQUIRE(p.done);
    CHECK(p.status == 201);
    CHECK(p.body == "ok");
    CHECK_FALSE(p.retry_after);  // the interim head's header is not the answer's
  }
  CHECK(parse_pieces({"HTTP/1.1 101 Switching Protocols\r\n\r\n"}).error);
}

TEST_CASE("http1 parser: keep-alive follows the version and Connection", "[http][http1]") {
  CHECK(parse_pieces({"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}).keep_alive);
  CHECK_FALSE(parse_pieces({"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n"})
                  .keep_alive);
  CHECK_FALSE(parse_pieces({"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"}).keep_alive);
  CHECK(parse_pieces({"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"})
            .keep_alive);
  // Chunked and a length at once: chunked wins and the connection is not trusted again.
  Parsed both =
      parse_pieces({"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: "
                    "chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"});
  CHECK(both.done);
  CHECK(both.body == "ab");
  CHECK_FALSE(both.keep_alive);
}

TEST_CASE("http1 parser: no body for 204 and 304; a repeated equal length is fine",
          "[http][http1]") {
  Parsed no_content = parse_pieces({"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"});
  CHECK(no_content.done);
  CHECK(no_content.body.empty());
  CHECK(no_content.keep_alive);
  CHECK(parse_pieces({"HTTP/1.1 304 Not Modified\r\n\r\n"}).done);
  Parsed twice = parse_pieces({"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nab"});
  CHECK(twice.done);
  CHECK(twice.body == "ab");
  CHECK(parse_pieces({"HTTP/1.1 200 OK\r\n\r\n"}, true).done);
}

TEST_CASE("http1 parser: malformed responses are errors", "[http][http1]") {
  auto error_of = [](const std::string& response) {
    Parsed p = parse_pieces({response});
    CHECK_FALSE(p.done);
    return p.error ? p.error_message : std::string("(no error)");
  };
  CHECK(error_of("SMTP ready\r\n\r\n").find("status line") != std::string::npos);
  CHECK(error_of("SMTP").find("status line") != std::string::npos);  // before any line end
  CHECK(error_of("HTTP/2 200\r\n\r\n").find("status line") != std::string::npos);
  CHECK(error_of("HTTP/1.1 2x0 OK\r\n\r\n").find("status line") != std::string::npos);
  CHECK(error_of("HTTP/1.1 200OK\r\n\r\n").find("status line") != std::string::npos);
  CHECK(error_of("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n").find("header") != std::string::npos);
  CHECK(error_of("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n").find("header") != std::string::npos);
  CHECK(error_of("HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n").find("Content-Length") !=
        std::string::npos);
  CHECK(error_of("HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n").find("Content-Length") !=
        std::string::npos);
  CHECK(error_of("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
            .find("Content-Length") != std::string::npos);
  CHECK(error_of("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n")
            .find("Content-Length") != std::string::npos);
  const std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  CHECK(error_of(chunked + "zz\r\n").find("chunk size") != std::string::npos);
  CHECK(error_of(chunked + "\r\n").find("chunk size") != std::string::npos);
  CHECK(error_of(chunked + "5 x\r\nhello\r\n").find("chunk size") != std::string::npos);
  CHECK(error_of(chunked + "fffffffffffffffffff\r\n").find("chunk size") != std::string::npos);
  CHECK(error_of(chunked + "5\r\nhelloXY\r\n").find("CRLF") != std::string::npos);
  CHECK(error_of(chunked + std::string(5000, '1')).find("chunk size") != std::string::npos);
}

TEST_CASE("http1 parser: heads larger than 64 KiB are refused", "[http][http1]") {
  std::string big = "HTTP/1.1 200 OK\r\nX-Big: " + std::string(70000, 'a') + "\r\n\r\n";
  Parsed whole = parse_pieces({big});
  CHECK(whole.error);
  CHECK(whole.error_message.find("64 KiB") != std::string::npos);
  // Many small lines add up the same way, and a partial line counts before its end arrives.
  std::string many = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 5000; ++i) many += "X-H" + std::to_string(i) + ": 0123456789\r\n";
  CHECK(parse_pieces({many}).error);
  CHECK(parse_pieces({"HTTP/1.1 200 OK\r\nX: " + std::string(70000, 'a')}).error);
  // Just under the limit is fine.
  std::string fits =
      "HTTP/1.1 200 OK\r\nX-Big: " + std::string(60000, 'a') + "\r\nContent-Length: 1\r\n\r\nz";
  CHECK(parse_pieces({fits}).done);
}

TEST_CASE("http1 parser: what an early close means", "[http][http1]") {
  CHECK(parse_pieces({}, true).eof == "Empty reply from server");
  CHECK(parse_pieces({"HTTP/1.1 200 OK\r\nContent-"}, true).eof ==
        "connection closed in the response head");
  Parsed truncated =
      parse_pieces({"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"}, true);
  CHECK_FALSE(truncated.done);
  CHECK(truncated.status == 200);
  CHECK(truncated.eof == "connection closed after 9 of 100 body bytes");
  Parsed cut = parse_pieces(
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n10\r\nab"}, true);
  CHECK_FALSE(cut.done);
  CHECK(cut.eof == "connection closed in a chunked body after 6 body bytes");
  // A chunked body missing only its last empty trailer line is still incomplete.
  CHECK_FALSE(
      parse_pieces({"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"}, true).done);
}

TEST_CASE("http1 URLs: hosts, ports, paths", "[http][http1]") {
  std::string error;
  auto t = parse_url("http://127.0.0.1:8000/v1/chat/completions?x=1#frag", &error);
  REQUIRE(t);
  CHECK(t->host == "127.0.0.1");
  CHECK(t->port == 8000);
  CHECK(t->authority == "127.0.0.1:8000");
  CHECK(t->path == "/v1/chat/completions?x=1");

  t = parse_url("HTTP://Example.COM", &error);
  REQUIRE(t);
  CHECK(t->host == "Example.COM");
  CHECK(t->port == 80);
  CHECK(t->authority == "Example.COM");
  CHECK(t->path == "/");

  t = parse_url("http://[::1]:9/a", &error);
  REQUIRE(t);
  CHECK(t->host == "::1");
  CHECK(t->port == 9);
  CHECK(t->authority == "[::1]:9");
  t = parse_url("http://[::1]", &error);
  REQUIRE(t);
  CHECK(t->authority == "[::1]");
  t = parse_url("http://h:80?q=1", &error);
  REQUIRE(t);
  CHECK(t->authority == "h");
  CHECK(t->path == "/?q=1");
  t = parse_url("http://h:/x", &error);  // an empty port is the default, as libcurl has it
  REQUIRE(t);
  CHECK(t->port == 80);

  for (const char* bad : {"http://", "http://:80/x", "http://h:99999/", "http://h:8x/",
                          "http://h:0/", "http://[::1/", "http://[::1]x/", "http://::1/",
                          "http://h/a b", "http://h/\r\nX: y", "https://h/", "http://u:p@h/"}) {
    CAPTURE(bad);
    error.clear();
    CHECK_FALSE(parse_url(bad, &error));
    CHECK_FALSE(error.empty());
  }
  CHECK(is_plain_http("http://h/x"));
  CHECK(is_plain_http("Http://h"));
  CHECK_FALSE(is_plain_http("https://h/x"));
  CHECK_FALSE(is_plain_http("http://user:key@h/x"));
  CHECK(is_plain_http("http://h/x?mail=a@b"));  // '@' past the authority is no user info
}

TEST_CASE("http1 request heads", "[http][http1]") {
  std::string error;
  Target t = *parse_url("http://127.0.0.1:8000/v1/x?y=1", &error);
  std::string head;
  append_request_head(head, t, true, {"Content-Type: application/json", "Expect:", "X-A: 1"}, 42);
  CHECK(head ==
        "POST /v1/x?y=1 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nContent-Type: application/json\r\n"
        "X-A: 1\r\nAccept: */*\r\nContent-Length: 42\r\n\r\n");
  head.clear();
  append_request_head(head, t, false, {"accept: text/event-stream", "HOST: other"}, 0);
  CHECK(head == "GET /v1/x?y=1 HTTP/1.1\r\naccept: text/event-stream\r\nHOST: other\r\n\r\n");
  head.clear();
  append_request_head(head, t, true, {"Content-Length: 7", "Transfer-Encoding: chunked"}, 0);
  CHECK(head ==
        "POST /v1/x?y=1 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nAccept: */*\r\nContent-Length: "
        "0\r\n\r\n");
}

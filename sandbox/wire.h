#pragma once
// Private to sandbox/: the byte format of messages between the harness (`Sandbox`), the
// launcher and the slot workers. Frames are a little-endian u64 length followed by the body;
// bodies are built with Writer and read with Reader. Binary-safe (test data is arbitrary bytes).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "harness/status.h"
#include "sandbox/sandbox.h"

namespace v4eval::sandbox::wire {

class Writer {
 public:
  void u8(uint8_t v) { buf_.push_back(static_cast<char>(v)); }
  void i64(int64_t v);
  void f64(double v);
  void str(std::string_view s);
  void boolean(bool b) { u8(b ? 1 : 0); }
  std::string& buffer() { return buf_; }

 private:
  std::string buf_;
};

// Reads what Writer wrote; any overrun marks the reader failed (checked once at the end).
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  uint8_t u8();
  int64_t i64();
  double f64();
  std::string str();
  bool boolean() { return u8() != 0; }
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == data_.size(); }

 private:
  bool take(size_t n);
  std::string_view data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

void put(Writer& w, const Limits& l);
void get(Reader& r, Limits* l);
void put(Writer& w, const Program& p);
void get(Reader& r, Program* p);
void put(Writer& w, const JudgeRequest& req);
void get(Reader& r, JudgeRequest* req);
void put(Writer& w, const JudgeReport& rep);
void get(Reader& r, JudgeReport* rep);
void put(Writer& w, const TierReport& t);
void get(Reader& r, TierReport* t);

// Blocking frame I/O on a stream socket. `timeout_ms` < 0: no deadline. Errors are statuses
// (kUnavailable for a peer that went away, kDeadlineExceeded for the deadline).
Status write_frame(int fd, std::string_view body);
Result<std::string> read_frame(int fd, int64_t timeout_ms);

// One file descriptor with a one-byte tag, over a unix socket (SCM_RIGHTS).
Status send_fd(int sock, int fd, uint8_t tag);
Result<std::pair<int, uint8_t>> recv_fd(int sock, int64_t timeout_ms);

// Message kinds on the control socket (harness <-> launcher).
enum ControlKind : uint8_t {
  kHello = 1,     // launcher -> harness: ok flag, TierReport or error text, slot count
  kRespawn = 2,   // harness -> launcher: slot index; reply: the new worker's socket (send_fd)
  kShutdown = 3,  // harness -> launcher
};

}  // namespace v4eval::sandbox::wire

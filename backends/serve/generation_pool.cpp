#include "backends/serve/generation_pool.h"

namespace v4eval::serve {

GenerationPool::GenerationPool(Backend& backend, int max_inflight)
    : backend_(backend),
      streaming_(dynamic_cast<StreamingBackend*>(&backend)),
      max_inflight_(std::max(1, max_inflight)) {
  threads_.reserve(size_t(max_inflight_));
  for (int i = 0; i < max_inflight_; ++i) threads_.emplace_back([this] { worker(); });
}

GenerationPool::~GenerationPool() { shutdown(std::chrono::milliseconds(0)); }

bool GenerationPool::submit(Job job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || busy_ >= max_inflight_) return false;
    ++busy_;
    queue_.push_back(std::move(job));
  }
  work_cv_.notify_one();
  return true;
}

int GenerationPool::inflight() const {
  std::lock_guard lock(mu_);
  return busy_;
}

void GenerationPool::worker() {
  while (true) {
    Job job;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return !queue_.empty() || (stopping_ && busy_ == 0); });
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      running_.insert(job.cancelled);
    }
    CallContext ctx;
    ctx.deadline = job.deadline;
    ctx.cancelled = job.cancelled.get();
    auto start = Clock::now();
    Generation g = streaming_ && job.on_delta
                       ? streaming_->generate_streaming(job.request, ctx, job.on_delta)
                       : backend_.generate(job.request, ctx);
    if (g.latency_ms <= 0)
      g.latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    job.on_done(std::move(g));
    {
      std::lock_guard lock(mu_);
      running_.erase(job.cancelled);
      --busy_;
    }
    idle_cv_.notify_all();
    work_cv_.notify_all();  // lets idle workers see (stopping_ && busy_ == 0)
  }
}

void GenerationPool::shutdown(std::chrono::milliseconds grace) {
  {
    std::unique_lock lock(mu_);
    if (joined_) return;
    stopping_ = true;
    work_cv_.notify_all();
    if (!idle_cv_.wait_for(lock, grace, [&] { return busy_ == 0; })) {
      // Past the grace period: jobs still queued never start, running ones are cancelled.
      for (auto& flag : running_) flag->store(true);
    }
  }
  // Queued jobs still run (briefly: most backends check cancellation first) so that every
  // on_done fires exactly once; mark them cancelled before they start.
  {
    std::lock_guard lock(mu_);
    if (busy_ > 0)
      for (auto& job : queue_) job.cancelled->store(true);
  }
  work_cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  std::lock_guard lock(mu_);
  joined_ = true;
}

}  // namespace v4eval::serve

// A fixed pool of compute threads for the addon's kernels: the calling (JS) thread plus
// threads-1 workers run the tasks of one parallel_for. Why our own pool: a TF.js training step is
// hundreds of kernels of 10 us to 10 ms each, back to back; a worker that sleeps between them
// costs a futex wake-up (~5-50 us) per kernel, so workers spin for a short while after each
// parallel_for before they sleep (SPIN_NS), and the next kernel usually finds them awake.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mf {

class ThreadPool {
 public:
  static ThreadPool& instance() {
    static ThreadPool pool;
    return pool;
  }

  int threads() const { return threads_; }

  // Changes the thread count (>= 1). Not called while a parallel_for runs (JS is single-threaded).
  void set_threads(int n) {
    if (n < 1) n = 1;
    if (n == threads_) return;
    stop_workers();
    threads_ = n;
    shares_ = std::vector<Share>(static_cast<size_t>(n));
    start_workers();
  }

  // Runs fn(task, worker) for task in [0, tasks), worker in [0, threads()): each worker id is used
  // by one thread at a time, so per-worker scratch indexed by it needs no lock.
  void parallel_for(int64_t tasks, const std::function<void(int64_t, int)>& fn) {
    if (tasks <= 0) return;
    // Shares pack two 32-bit task indices; no kernel comes near 2^32 tasks.
    if (threads_ == 1 || tasks == 1 || tasks > int64_t{0xFFFFFFFF}) {
      for (int64_t t = 0; t < tasks; ++t) fn(t, 0);
      return;
    }
    job_ = &fn;
    // Worker w owns the w-th contiguous share of the tasks. Kernels split their work in the same
    // order (rows of NHWC arrays, pixel chunks), so a thread mostly reads what it wrote in the
    // kernel before, from its own L2: with one shared counter, the two threads of a training step
    // took each other's rows half the time, and a 2-thread convolution inside a step ran ~25%
    // slower than on the same inputs cached. A thread done with its share takes tasks from the
    // back of the others' (a slow or descheduled thread does not hold the kernel up).
    for (int w = 0; w < threads_; ++w) {
      const uint64_t lo = static_cast<uint64_t>(tasks * w / threads_), hi = static_cast<uint64_t>(tasks * (w + 1) / threads_);
      shares_[w].range.store((lo << 32) | hi, std::memory_order_relaxed);
    }
    uint64_t gen;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      gen = generation_.load(std::memory_order_relaxed) + 1;
      // Open the generation for workers to join before they can see it.
      joined_.store(gen << JOIN_BITS, std::memory_order_release);
      generation_.store(gen, std::memory_order_release);
    }
    wake_.notify_all();
    drain(0);
    // Wait only for the workers that joined (they finish the tasks they took), then close the
    // generation so that a worker the OS has not run yet cannot join late: a descheduled worker
    // costs its share of the work, not its time slice.
    for (uint64_t open = gen << JOIN_BITS;;) {
      uint64_t expected = open;
      if (joined_.compare_exchange_weak(expected, open | CLOSED, std::memory_order_acq_rel)) break;
      spin_pause();
    }
    job_ = nullptr;
  }

  ~ThreadPool() { stop_workers(); }

 private:
  static constexpr int64_t SPIN_NS = 2'000'000;  // 2 ms: longer than the gaps between a step's kernels
  static constexpr int JOIN_BITS = 16;
  static constexpr uint64_t CLOSED = (uint64_t{1} << JOIN_BITS) - 1;

  ThreadPool() = default;

  static void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  // Runs the worker's own share from its front, then the others' from their backs.
  void drain(int worker) {
    int64_t t;
    while (take(worker, true, t)) (*job_)(t, worker);
    for (int i = 1; i < threads_; ++i) {
      const int victim = (worker + i) % threads_;
      while (take(victim, false, t)) (*job_)(t, worker);
    }
  }

  bool take(int share, bool front, int64_t& task) {
    std::atomic<uint64_t>& range = shares_[share].range;
    uint64_t v = range.load(std::memory_order_acquire);
    for (;;) {
      const uint64_t lo = v >> 32, hi = v & 0xFFFFFFFFu;
      if (lo >= hi) return false;
      if (range.compare_exchange_weak(v, front ? v + (uint64_t{1} << 32) : v - 1, std::memory_order_acq_rel)) {
        task = static_cast<int64_t>(front ? lo : hi - 1);
        return true;
      }
      spin_pause();
    }
  }

  // `seen`: the generation when the worker was started, read by the starting thread: a
  // parallel_for issued before the new thread runs must still count as new for it.
  void worker_loop(int worker, uint64_t seen) {
    for (;;) {
      // Spin a while for the next kernel, then sleep until one comes.
      auto start = std::chrono::steady_clock::now();
      uint64_t gen;
      for (int i = 0;; ++i) {
        gen = generation_.load(std::memory_order_acquire);
        if (gen != seen || stopping_.load(std::memory_order_relaxed)) break;
        spin_pause();
        if ((i & 255) == 255 && std::chrono::steady_clock::now() - start > std::chrono::nanoseconds(SPIN_NS)) {
          std::unique_lock<std::mutex> lock(mutex_);
          wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen || stopping_.load(); });
          gen = generation_.load(std::memory_order_acquire);
          break;
        }
      }
      if (stopping_.load()) return;
      seen = gen;
      if (!join(gen)) continue;
      drain(worker);
      joined_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  // Enters generation `gen` unless its parallel_for already closed it (or a newer one opened).
  bool join(uint64_t gen) {
    uint64_t v = joined_.load(std::memory_order_acquire);
    for (;;) {
      if ((v >> JOIN_BITS) != gen || (v & CLOSED) == CLOSED) return false;
      if (joined_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel)) return true;
      spin_pause();
    }
  }

  void start_workers() {
    stopping_.store(false);
    const uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int w = 1; w < threads_; ++w) workers_.emplace_back([this, w, gen] { worker_loop(w, gen); });
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_.store(true);
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stopping_{false};
  // One per thread, on its own cache line: [lo, hi) of the task indices still to run in its share.
  struct alignas(64) Share {
    std::atomic<uint64_t> range{0};
  };
  std::vector<Share> shares_ = std::vector<Share>(1);
  // The open generation (high bits) and how many workers are inside it (low JOIN_BITS bits, all
  // ones once its parallel_for has closed it).
  std::atomic<uint64_t> joined_{CLOSED};
  const std::function<void(int64_t, int)>* job_ = nullptr;
};

}  // namespace mf

// The engine's threads: one process-wide pool of workers that the kernels split their
// loops over (the calling thread takes part). Natively and in a wasm build with
// pthreads (-pthread, run where SharedArrayBuffer exists: Node, or a cross-origin
// isolated page); a wasm build without them has exactly one thread, the caller.
#pragma once
#include <cstdint>
#include <functional>

namespace ursa::engine {

// True if this build can run more than one thread.
bool threads_supported();

// Threads the kernels plan for, the caller included (1 = everything on the calling
// thread): the count set, lowered once a worker could not be started. Takes no lock.
int pool_threads();

// Sets how many threads the kernels use, the caller included; 0 = the default (every
// hardware thread natively, 1 in a wasm build without pthreads). Clamped to [1, 64]
// and to what the build can start; returns the number in use. Workers start when
// first needed, and surplus ones are stopped here.
int set_pool_threads(int n);

// Runs task(0) ... task(tasks - 1), spread over the pool, and returns when all are
// done. Each task must touch memory the others do not write. Runs them in order on
// the calling thread when the pool has one thread, when called from inside a task,
// or while another thread is using the pool (so it is safe to call from anywhere).
void parallel_for(int64_t tasks, const std::function<void(int64_t)>& task);

}  // namespace ursa::engine

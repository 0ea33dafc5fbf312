"""One sitting's runs, for the scenario scripts beside this file (grant.py, dpop.py): a wrk run's
server and Redis CPU per request, measured with the shared driver's helpers
(Benchmarks/bench/bench.py), and the medians of a sitting's rounds against the bare floor."""

import os
import statistics
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench"))
import bench  # noqa: E402  (the shared driver: its wrk runner and CPU sampling)


def measure(script, arguments, target, redis_port, duration, connections, pids=None, warm=True):
    """One wrk run of `script` at `target` (after a 2 s warm-up unless `warm` is false): its rate,
    non-2xx count, p99, and the server's and Redis's CPU per request in µs."""
    if warm:
        bench.run_wrk(target, script, arguments, 2, connections, 2, 30)
        time.sleep(0.5)
    port = urllib.parse.urlsplit(target).port
    servers, redis = bench.proc_tree(pids or bench.listening_pids(port)), bench.listening_pids(redis_port)
    s0, r0 = bench.sample(servers), bench.sample(redis)
    result = bench.run_wrk(target, script, arguments, duration, connections, 2, 30)
    s1, r1 = bench.sample(servers), bench.sample(redis)
    count = max(1, result["requests"])
    return {
        "rps": result["rps"], "non2xx": result["non2xx"], "p99_ms": result["lat_p99_us"] / 1000,
        "server_us": bench.delta_s(s0, s1) / count * 1e6, "redis_us": bench.delta_s(r0, r1) / count * 1e6,
    }


def report_round(runs, round_):
    for name, results in runs.items():
        last = results[-1]
        print(f"  round {round_ + 1} {name}: {last['rps']:.0f} req/s, server {last['server_us']:.1f} us/req, "
              f"redis {last['redis_us']:.1f} us/req, p99 {last['p99_ms']:.2f} ms, non-2xx {last['non2xx']}")


def report_medians(runs, rounds, duration, connections, floor_name="bare floor", width=40):
    """The medians of every run, the server's against the floor's; `runs` maps a name to its rounds."""
    print(f"medians of {rounds} rounds ({duration} s, {connections} connections):")
    floor = statistics.median(r["server_us"] for r in runs[floor_name])
    for name, results in runs.items():
        server = statistics.median(r["server_us"] for r in results)
        redis = statistics.median(r["redis_us"] for r in results)
        print(f"  {name:{width}} server {server:6.1f} us/req ({server / floor:.2f}x floor)  redis {redis:5.1f} us/req"
              f"  ({1e6 / server:,.0f} per CPU-second)  p99 {statistics.median(r['p99_ms'] for r in results):.2f} ms"
              f"  non-2xx {sum(r['non2xx'] for r in results)}")

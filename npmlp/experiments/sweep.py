"""Execute a grid of runs: skip finished ones, then run the rest locally or on a Dask cluster.

    results = run_all(specs, root, workers=2)                      # local process pool
    results = run_all(specs, root, scheduler="tcp://host:8786")    # Dask distributed
    -> {key: result dict}

Order: runs already finished (runstore: result.json present) are read, not run. Then the runs that
may share the machine go to the pool (or the cluster) at once; then the exclusive ones (timing runs)
run one at a time, so no run of ours competes with a run being timed. One tqdm bar counts runs; with
`workers=1` the runs execute in this process and each shows its own epoch bar below it (a pool's
workers have no terminal of their own, so their epoch bars are off).

Local pool: `spawn` start method (a fresh interpreter per worker: no BLAS or Numba threads inherited
through fork). Ctrl-C: every worker's training loop writes its checkpoint and stops; nothing half-done
is stored, and running the same command again resumes. Dask is an optional extra (`pip install
'dask[distributed]'`); workers should see the same filesystem path as this process for interrupted
runs to resume from their checkpoints, while finished results are stored here in any case.
"""
import concurrent.futures as cf
import json
import multiprocessing
import sys
import traceback

from tqdm import tqdm

from ..errors import UserError
from ..runs import _json_default
from .runstore import dedupe, load_result, store_result
from .tasks import execute


class SweepInterrupted(UserError):
    exit_code = 130


class SweepFailed(UserError):
    """Some runs raised; the others finished and are stored."""


def run_all(specs, root, workers=1, scheduler=None, progress=True, log=None):
    specs = dedupe(specs)
    log = log or (lambda msg: tqdm.write(msg, file=sys.stderr))
    results, pending = {}, []
    for s in specs:
        r = load_result(root, s.key)
        if r is None:
            pending.append(s)
        else:
            results[s.key] = r
    bar = tqdm(total=len(specs), initial=len(results), desc="runs", unit="run",
               disable=not progress or not specs, file=sys.stderr)
    failures = []

    def finished(spec, result, error=None):
        if error is not None:
            failures.append(f"{spec.label or spec.key}: {error}")
            log(f"run {spec.key} ({spec.label}) failed: {error}")
        elif result is None:
            raise SweepInterrupted(
                f"interrupted: {len(results)} of {len(specs)} runs finished and are stored in "
                f"{root}; run the same command again to resume (unfinished runs continue from "
                f"their checkpoints).")
        else:   # as stored (JSON types), whether it ran now or earlier
            result = json.loads(json.dumps(result, default=_json_default))
            if "skipped" not in result:
                store_result(root, spec, result)
            results[spec.key] = result
        bar.update(1)
        bar.set_postfix_str(spec.label[:40], refresh=True)

    shared = [s for s in pending if not s.exclusive]
    alone = [s for s in pending if s.exclusive]
    try:
        if scheduler:
            _run_dask(shared, alone, root, scheduler, finished)
        else:
            if workers > 1 and len(shared) > 1:
                _run_pool(shared, root, workers, finished)
            else:
                alone = shared + alone
            for s in alone:   # in this process: Ctrl-C reaches the loop, epoch bars can be shown
                _run_here(s, root, progress, finished)
    finally:
        bar.close()
    if failures:
        raise SweepFailed(f"{len(failures)} of {len(specs)} runs failed (the others are stored; "
                          f"fix the cause and run the same command again):\n  "
                          + "\n  ".join(failures))
    return results


def _error_text(exc):
    if isinstance(exc, UserError):
        return str(exc)
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _run_here(spec, root, progress, finished):
    try:
        result = execute(spec.to_json(), root, progress=progress)
    except KeyboardInterrupt:
        result = None
    except Exception as e:  # noqa: BLE001  (one failing run must not lose the others)
        if not isinstance(e, UserError):
            traceback.print_exc()
        finished(spec, None, _error_text(e))
        return
    finished(spec, result)


def _collect(futures, completed, finished):
    """Report each future's result (or its error) to `finished` in the order `completed` yields them;
    one failed run does not stop the others."""
    for fut in completed:
        spec = futures[fut]
        try:
            result = fut.result()
        except Exception as e:  # noqa: BLE001
            finished(spec, None, _error_text(e))
            continue
        finished(spec, result)


def _run_pool(specs, root, workers, finished):
    ctx = multiprocessing.get_context("spawn")
    pool = cf.ProcessPoolExecutor(max_workers=min(workers, len(specs)), mp_context=ctx)
    try:
        futures = {pool.submit(execute, s.to_json(), root): s for s in specs}
        _collect(futures, cf.as_completed(futures), finished)
    except KeyboardInterrupt:
        pool.shutdown(wait=True, cancel_futures=True)   # workers checkpoint and return
        finished(specs[0], None)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def dask_client(address):
    """A distributed.Client for `address`, or a UserError that says how to get one."""
    try:
        from distributed import Client
    except ImportError:
        raise UserError("--scheduler needs Dask distributed, which is not installed: "
                        "pip install 'dask[distributed]'  (or pip install -e '.[dask]')") from None
    try:
        return Client(address, timeout="20s")
    except (OSError, TimeoutError) as e:
        raise UserError(f"cannot reach the Dask scheduler at {address} ({e}). Start one with "
                        f"`dask scheduler` and workers with `dask worker {address}`, or leave out "
                        f"--scheduler to run on a local process pool.") from None


def _run_dask(shared, alone, root, address, finished):
    from distributed import as_completed
    client = dask_client(address)
    try:
        def submit(s):
            return client.submit(execute, s.to_json(), root, pure=False, key=f"npmlp-run-{s.key}")
        futures = {submit(s): s for s in shared}
        _collect(futures, as_completed(list(futures)), finished)
        for s in alone:        # one at a time, anywhere on the cluster
            try:
                result = submit(s).result()
            except Exception as e:  # noqa: BLE001
                finished(s, None, _error_text(e))
                continue
            finished(s, result)
    finally:
        client.close()

"""ALSH-APPROX on the fast path (npmlp/fastpath.py): where a compiled call must end, and the
strategy's per-step bookkeeping for the n fused steps it took.

A compiled call (kernels/fused_step.py) cannot rebuild tables, check drift or measure recall: those
stay the strategy's own Python (strategies/alsh.py). So Runner.run ends a call after the step whose
after_step is due and lets the strategy act, and leaves a recall step to the reference path.
"""


def alsh_steps_to_event(st, cfg):
    """Steps the fast path may take before Python must act: the step whose after_step is due for a
    table rebuild (or drift check) ends the chunk; a step that measures recall (strategies/alsh.py
    _measure_recall, every alsh_recall_every steps) is left to the reference path (0 = this one)."""
    sch = st.schedule
    if sch.kind == "edbt":
        b = st.seen_epoch if sch.counter == "epoch" else st.seen_total
        nxt = (b // 100 + 1) * 100 if b < 10_000 else (b // 1000 + 1) * 1000
        until = nxt - b
    elif sch.kind == "kdd":
        chunk = -(-sch.epoch_size // 10)
        until = (st.seen_epoch // chunk + 1) * chunk - st.seen_epoch
    else:
        until = max(sch.next_at - st.seen_total, 1)
    if cfg.alsh_recall_every:
        until = min(until, -st.steps_taken % cfg.alsh_recall_every)
    return until


def alsh_after_steps(st, n, ctx, params):
    """The strategy's after_step for n fused steps: only the last can be due (the chunk ends there),
    so the counters advance by n - 1 and the last step runs the strategy's own hook."""
    st.seen_epoch += n - 1
    st.seen_total += n - 1
    st.steps_taken += n - 1
    st.after_step(ctx, params)

"""python -m npmlp.explain: watch the equations at work.

    step          one training step of a tiny network, layer by layer: each equation as the paper writes
                  it, the shapes, the numbers, the numerical gradient beside the analytic one, and what a
                  sampling method chose (npmlp/explain/step.py)
    propagation   how a sampling method's error enters at one layer and grows through the next, beside
                  Lemma 7.1 and Theorem 7.2 (npmlp/explain/propagation.py)

Both print through npmlp/api.py (the same calls as training) and npmlp/reference.py (the plain-NumPy
step); see docs/tutorial.md for the walk from one neuron to the paper's network.
"""

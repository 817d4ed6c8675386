"""Every random stream of a run, derived from --seed in one documented way.

    root = np.random.SeedSequence(seed)
    main_generator(seed) = default_rng(root)     initial weights, sample orders, masks, samples:
                                                 the training Generator (TrainState.rng, saved in
                                                 checkpoints); identical to default_rng(seed)
    child_generator(seed, name) = default_rng(root.spawn(...)[CHILDREN.index(name)]):
        "alsh"   ALSH-APPROX's hash functions and its pool of uniforms
        "split"  the random validation split (--validation random)
        "probe"  the error-propagation experiment's random choices
SeedSequence.spawn makes the children independent of the main stream and of each other, so a
stream that draws more (another ALSH option, a longer probe) never shifts another's sequence. A new
stream is appended to CHILDREN, never inserted: a child's spawn key is its position.
The synthetic dataset is data, not a training choice: it is generated from its own `seed` argument
(npmlp/data/synthetic.py).
"""
import numpy as np

CHILDREN = ("alsh", "split", "probe")


def main_generator(seed):
    return np.random.default_rng(np.random.SeedSequence(seed))


def child_generator(seed, name):
    children = np.random.SeedSequence(seed).spawn(len(CHILDREN))
    return np.random.default_rng(children[CHILDREN.index(name)])

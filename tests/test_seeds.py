"""Every random stream derives from --seed through npmlp/seeds.py."""
import numpy as np

from npmlp.data.dataset import split_indices
from npmlp.seeds import CHILDREN, child_generator, main_generator


def test_main_stream_is_default_rng_of_the_seed():
    np.testing.assert_array_equal(main_generator(7).random(5), np.random.default_rng(7).random(5))


def test_children_are_reproducible_and_distinct_from_each_other_and_the_main_stream():
    draws = {name: child_generator(7, name).random(4) for name in CHILDREN}
    draws["main"] = main_generator(7).random(4)
    for name in CHILDREN:
        np.testing.assert_array_equal(child_generator(7, name).random(4), draws[name])
        assert not np.array_equal(child_generator(8, name).random(4), draws[name])
    rows = np.array(list(draws.values()))
    assert len({tuple(r) for r in rows}) == len(rows)


def test_a_child_is_the_spawned_seed_sequence_of_its_position():
    """The documented derivation, literally: SeedSequence(seed).spawn(n)[i]."""
    for i, name in enumerate(CHILDREN):
        want = np.random.default_rng(np.random.SeedSequence(3).spawn(len(CHILDREN))[i]).random(3)
        np.testing.assert_array_equal(child_generator(3, name).random(3), want)


def test_random_validation_split_draws_from_the_split_stream():
    train, val = split_indices(50, 10, "random", seed=4)
    order = child_generator(4, "split").permutation(50)
    np.testing.assert_array_equal(val, np.sort(order[:10]))
    np.testing.assert_array_equal(train, np.sort(order[10:]))

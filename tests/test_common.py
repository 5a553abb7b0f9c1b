"""scikit-learn's own estimator checks.

The regressor runs the full suite through ``parametrize_with_checks``; the
one expected failure is written down below with its reason. The text classifier takes raw strings, for which
``parametrize_with_checks`` yields no checks; its input-independent checks run
in ``test_text.py`` and the rest are explicit tests there.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_transformers import AttentionTimeSeriesRegressor


def _tiny_regressor():
    return AttentionTimeSeriesRegressor(
        embed_dim=8,
        num_heads=2,
        num_layers=1,
        ff_dim=16,
        max_epochs=5,
        random_state=0,
    )


# Checks that cannot pass, and why. What they mean to check is tested with a
# tolerance in tests/test_conventions.py.
EXPECTED_FAILED_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data": (
        "weights must match repeated samples to rtol=1e-7; float32 sums over a "
        "weighted and a repeated batch round differently, and AdamW's first "
        "steps (about lr times the gradient's sign) turn that rounding into "
        "changes of about lr in weights whose gradient is near zero"
    ),
}


@parametrize_with_checks(
    [_tiny_regressor()], expected_failed_checks=lambda _: EXPECTED_FAILED_CHECKS
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)

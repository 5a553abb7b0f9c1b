"""scikit-learn's own estimator checks.

The regressor runs the full suite through ``parametrize_with_checks`` with no
expected failures. The text classifier takes raw strings, for which
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


@parametrize_with_checks([_tiny_regressor()])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)

"""Every private scikit-learn import of the package, in one place.

scikit-learn moves private helpers between releases; keeping them here means a
future release breaks one file, not the whole package.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight

__all__ = ["Interval", "StrOptions", "_check_sample_weight", "_fit_context"]

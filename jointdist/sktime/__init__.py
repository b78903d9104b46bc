"""sktime interface of jointdist.

:class:`JointForecasterAdapter` (or :func:`to_sktime`) turns any jointdist forecaster
into an sktime forecaster with probabilistic predictions derived from one set of joint
sample paths; :meth:`~JointForecasterAdapter.predict_proba` returns an skpro
``Empirical`` distribution that keeps whole paths.
"""

from jointdist.sktime._adapter import JointForecasterAdapter, to_sktime

__all__ = ["JointForecasterAdapter", "to_sktime"]

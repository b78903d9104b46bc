"""sktime interface of jointdist.

:class:`JointForecasterAdapter` (or :func:`to_sktime`) turns any jointdist forecaster
into an sktime forecaster with probabilistic predictions derived from one set of joint
sample paths; :meth:`~JointForecasterAdapter.predict_proba` returns an skpro
``Empirical`` distribution that keeps whole paths.
"""

from jointdist._optional import import_optional

for _package in ("sktime", "skpro"):
    import_optional(_package, extra="sktime", needed_by="jointdist.sktime (to_sktime)")
del _package

from jointdist.sktime._adapter import JointForecasterAdapter, to_sktime  # noqa: E402

__all__ = ["JointForecasterAdapter", "to_sktime"]

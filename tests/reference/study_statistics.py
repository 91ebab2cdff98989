"""Reference values for the study statistics' unit tests (server/src/analytics/{cluster,srm,
multiple_testing,sequential}.rs), computed independently of the Rust code.

Run: python3 -m venv v && v/bin/pip install numpy scipy statsmodels && v/bin/python tests/reference/study_statistics.py
(numpy 2, scipy 1.17, statsmodels 0.15 gave the figures quoted in the tests.)
"""
import math

import numpy as np
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest


def delta_ratio(users):
    """Deng et al. (2018), 'Applying the delta method in metric analytics', eq. (4): the variance of
    sum(A)/sum(N) over independent users from the sample moments of (A_i, N_i)."""
    a = np.array([u[0] for u in users], float)
    n = np.array([u[1] for u in users], float)
    k = len(users)
    mu_a, mu_n = a.mean(), n.mean()
    var_a, var_n = a.var(ddof=1), n.var(ddof=1)
    cov = np.cov(a, n, ddof=1)[0, 1]
    r = mu_a / mu_n
    var = (var_a - 2 * r * cov + r * r * var_n) / (k * mu_n * mu_n)
    return r, var


def cluster_robust_cr0(users):
    """The same variance another way: an intercept-only OLS on the 0/1 generations, clustered by
    user (CR0, no small-sample factor), times k/(k-1) — equal to the delta method's sample moments."""
    y, groups = [], []
    for g, (acc, n) in enumerate(users):
        y += [1.0] * acc + [0.0] * (n - acc)
        groups += [g] * n
    fit = sm.OLS(np.array(y), np.ones((len(y), 1))).fit(cov_type="cluster", cov_kwds={"groups": np.array(groups), "use_correction": False})
    k = len(users)
    return fit.params[0], fit.cov_params()[0, 0] * k / (k - 1)


def compare(arm, base):
    r1, v1 = delta_ratio(arm)
    r0, v0 = delta_ratio(base)
    d, se = r1 - r0, math.sqrt(v1 + v0)
    z = d / se
    return d, se, (d - 1.959963984540054 * se, d + 1.959963984540054 * se), 2 * stats.norm.sf(abs(z))


def naive(arm, base):
    s1, n1 = sum(u[0] for u in arm), sum(u[1] for u in arm)
    s0, n0 = sum(u[0] for u in base), sum(u[1] for u in base)
    z, p = proportions_ztest([s1, s0], [n1, n0])
    return z, p


def cuped(arm, base):
    """CUPED (Deng et al. 2013) on the delta method's linearised ratio: L_i = (A_i - R N_i)/mean(N),
    theta = pooled within-arm cov(L, X)/var(X), users without a pre-period rate take the pooled mean
    of X, estimate R - theta (mean X_arm - mean X_pooled), variance var(L - theta X)/k."""
    def parts(users):
        a = np.array([u[0] for u in users], float)
        n = np.array([u[1] for u in users], float)
        r = a.sum() / n.sum()
        return r, (a - r * n) / n.mean()
    xs_all = [u[2] for u in arm + base if u[2] is not None]
    x_fill = float(np.mean(xs_all))
    xa = np.array([u[2] if u[2] is not None else x_fill for u in arm])
    xb = np.array([u[2] if u[2] is not None else x_fill for u in base])
    ra, la = parts(arm)
    rb, lb = parts(base)
    xc = np.concatenate([xa - xa.mean(), xb - xb.mean()])
    lc = np.concatenate([la, lb])
    theta = (lc * xc).sum() / (xc * xc).sum()
    x_pooled = np.concatenate([xa, xb]).mean()
    est_a = ra - theta * (xa.mean() - x_pooled)
    est_b = rb - theta * (xb.mean() - x_pooled)
    va = np.var(la - theta * xa, ddof=1) / len(arm)
    vb = np.var(lb - theta * xb, ddof=1) / len(base)
    d, se = est_a - est_b, math.sqrt(va + vb)
    return theta, d, se, 2 * stats.norm.sf(abs(d / se))


def msprt(d, v, tau2, alpha=0.05):
    """Johari et al. (2017) normal-mixture mSPRT: Lambda = sqrt(V/(V+tau2)) exp(tau2 d^2 / (2V(V+tau2))),
    always-valid p = min(1, 1/Lambda); the matching confidence sequence's half-width
    sqrt(V(V+tau2)/tau2 * (2 log(1/alpha) + log((V+tau2)/V)))."""
    lam = math.sqrt(v / (v + tau2)) * math.exp(tau2 * d * d / (2 * v * (v + tau2)))
    half = math.sqrt(v * (v + tau2) / tau2 * (2 * math.log(1 / alpha) + math.log((v + tau2) / v)))
    return min(1.0, 1 / lam), half


EQUAL_BASE = [(20, 100), (60, 100), (30, 100), (50, 100)]
EQUAL_ARM = [(50, 100), (70, 100), (30, 100), (60, 100)]
UNEQUAL_BASE = [(3, 10), (40, 80), (12, 30), (25, 40), (0, 5)]
UNEQUAL_ARM = [(8, 12), (30, 50), (45, 60), (5, 20), (14, 18), (2, 3)]
CUPED_BASE = [(20, 100, 0.25), (60, 100, 0.55), (30, 100, 0.35), (50, 100, None), (44, 90, 0.5)]
CUPED_ARM = [(50, 100, 0.4), (70, 100, 0.6), (30, 100, 0.2), (60, 100, 0.5), (9, 20, None)]

if __name__ == "__main__":
    print("naive equal", naive(EQUAL_ARM, EQUAL_BASE))
    print("robust equal d, se, ci, p", compare(EQUAL_ARM, EQUAL_BASE))
    for name, users in [("unequal base", UNEQUAL_BASE), ("unequal arm", UNEQUAL_ARM)]:
        print(name, "delta", delta_ratio(users), "cr0*k/(k-1)", cluster_robust_cr0(users))
    print("robust unequal d, se, ci, p", compare(UNEQUAL_ARM, UNEQUAL_BASE))
    print("cuped theta, d, se, p", cuped(CUPED_ARM, CUPED_BASE))
    print("cuped plain d, se, ci, p", compare([u[:2] for u in CUPED_ARM], [u[:2] for u in CUPED_BASE]))
    print("srm 510/490", stats.chisquare([510, 490]))
    print("srm 600/400", stats.chisquare([600, 400]))
    print("srm 340/330/330", stats.chisquare([340, 330, 330]))
    print("srm 120/100/80", stats.chisquare([120, 100, 80]))
    print("holm", multipletests([0.01, 0.04, 0.03], method="holm")[1])
    print("holm 2", multipletests([0.2, 0.001, 0.013, 0.04], method="holm")[1])
    print("msprt d=0.05 V=0.0004 tau2=0.0025", msprt(0.05, 0.0004, 0.0025))
    print("msprt d=0.01 V=0.0004 tau2=0.0025", msprt(0.01, 0.0004, 0.0025))

"""Generate studies/data/customers.csv: a small synthetic churn table (deterministic).

Run from the repository root: ``python studies/data/make_customers.py``.  Numeric columns
(age, tenure_months, monthly_charges, support_calls), categorical columns (plan, region,
payment) with a few missing values, an ``id`` column to drop, and the target ``churn``
(0/1) drawn from a logistic model of the features (seed 0).
"""

from pathlib import Path

import numpy as np
import pandas as pd


def make_customers(n=600, seed=0):
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "standard", "premium"], size=n, p=[0.5, 0.3, 0.2])
    region = rng.choice(["north", "south", "east", "west"], size=n)
    payment = rng.choice(["card", "bank", "cash"], size=n, p=[0.5, 0.3, 0.2])
    age = rng.integers(18, 80, size=n)
    tenure = rng.integers(1, 72, size=n)
    charges = np.round(rng.normal(60, 20, size=n).clip(10, 150), 2)
    calls = rng.poisson(1.5, size=n)
    logit = (
        -1.0
        - 0.04 * tenure
        + 0.02 * (charges - 60)
        + 0.5 * calls
        + np.select([plan == "basic", plan == "premium"], [0.8, -0.6], 0.0)
        + np.where(payment == "cash", 0.7, 0.0)
        + np.where(region == "south", 0.3, 0.0)
    )
    churn = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame({
        "id": np.arange(1, n + 1),
        "age": age,
        "tenure_months": tenure,
        "monthly_charges": charges,
        "support_calls": calls,
        "plan": plan,
        "region": region,
        "payment": payment,
        "churn": churn,
    })
    frame.loc[rng.choice(n, 12, replace=False), "payment"] = np.nan
    return frame


if __name__ == "__main__":
    out = Path(__file__).with_name("customers.csv")
    make_customers().to_csv(out, index=False)
    print(f"wrote {out}")

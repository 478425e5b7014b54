"""Promotion-expense claims: budgets, pre-approval, claims with evidence, review and payment (issue 8)."""

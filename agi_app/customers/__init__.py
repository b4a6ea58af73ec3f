"""Customers: number normalisation, lookup by caller, grades, import/export."""

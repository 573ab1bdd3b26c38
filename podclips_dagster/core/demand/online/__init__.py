"""Demand code the sidecar runs: no pandas, so the Lambda package stays small."""

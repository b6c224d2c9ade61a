"""Staff pages: the recovery queue, a case's evidence and decisions, the dashboard, audit and the monthly
report, with their reads (selectors.py, report.py). Thin: each decision calls one service of cases/."""

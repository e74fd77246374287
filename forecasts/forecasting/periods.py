"""Series frequencies: the period codes a forecast accepts and how many days each period spans."""

DAILY = "D"
WEEKLY = "W"
DAYS_PER_PERIOD = {DAILY: 1, WEEKLY: 7}

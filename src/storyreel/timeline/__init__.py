"""Pure timing: exact clock (Fraction fps, integer frames and samples) and the plan."""

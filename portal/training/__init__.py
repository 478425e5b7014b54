"""Training: courses, sessions with seats and a waitlist, enrolment, attendance and certificates."""

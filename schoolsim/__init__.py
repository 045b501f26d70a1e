"""schoolsim."""

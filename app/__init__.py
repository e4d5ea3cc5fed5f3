"""The Streamlit leaderboard and report."""

"""Page script (st.Page): renders screens.researcher.disagreements."""

from screens import researcher

researcher.disagreements()

"""Page script (st.Page): renders screens.researcher.progress."""

from screens import researcher

researcher.progress()

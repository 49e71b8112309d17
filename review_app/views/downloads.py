"""Page script (st.Page): renders screens.researcher.downloads."""

from screens import researcher

researcher.downloads()

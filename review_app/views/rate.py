"""Page script (st.Page): renders screens.rate.render."""

from screens import rate

rate.render()

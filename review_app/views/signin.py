"""Page script (st.Page): renders screens.signin.render."""

from screens import signin

signin.render()

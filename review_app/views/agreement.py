"""Page script (st.Page): renders screens.researcher.agreement_page."""

from screens import researcher

researcher.agreement_page()

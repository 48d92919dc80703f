"""Rules of enrolment that a command can break."""


class EnrolmentError(Exception):
    """A command refused by an enrolment rule."""


class EmployerAlreadyRegisteredError(EnrolmentError):
    def __init__(self, credit_code: str) -> None:
        super().__init__(f"employer {credit_code} is already registered")


class EmployerNotFoundError(EnrolmentError):
    def __init__(self, credit_code: str) -> None:
        super().__init__(f"employer {credit_code} is not registered")


class EstablishedInFutureError(EnrolmentError):
    def __init__(self) -> None:
        super().__init__("established_on is in the future")

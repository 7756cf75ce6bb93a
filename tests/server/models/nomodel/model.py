"""A model.py that forgot to subclass mlservice.Model."""


class NotAModel:
    def predict(self, payload: object) -> object:
        return payload

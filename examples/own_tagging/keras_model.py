"""An existing Keras token tagger, as a user writes it: no paritybench import. An embedding, a dense layer per
token and a softmax over the 5 tags per token; sparse categorical cross-entropy on the integer tags."""

import keras


def build_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(8,), dtype="int64"),
            keras.layers.Embedding(20, 8, name="embed"),
            keras.layers.Dense(16, name="hidden"),
            keras.layers.Activation("tanh", name="tanh"),
            keras.layers.Dense(5, activation="softmax", name="out"),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5), loss="sparse_categorical_crossentropy")
    return model

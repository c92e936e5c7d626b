"""Sequential: runs its children in order; they are named "0", "1", "2", ... as in PyTorch."""
from .module import Module


class Sequential(Module):
    def __init__(self, *modules):
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module):
        setattr(self, str(len(self._modules)), module)
        return self

    def __getitem__(self, index):
        return list(self._modules.values())[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def forward_with_outputs(self, x):
        """(final output, [output of each child in order]): every one is a node of the graph, so
        after backward its .grad is the gradient of the loss with respect to it."""
        outputs = []
        for module in self._modules.values():
            x = module(x)
            outputs.append(x)
        return x, outputs

    @property
    def output_names(self):
        """The dotted paths of the children, aligned with forward_with_outputs' list."""
        return [module.path for module in self._modules.values()]

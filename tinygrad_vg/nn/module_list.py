"""ModuleList: a list that registers the modules it holds, as children named "0", "1", "2", ...

A plain list attribute would hide its modules' parameters from .parameters(); this one does not.
It has no forward: the module that owns it decides how its entries run.
"""
import operator

from .module import Module


class ModuleList(Module):
    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)

    def checked(self, value, position):
        """value as this container will hold it at `position`; a TypeError for anything but a Module."""
        if isinstance(value, Module):
            return value
        if isinstance(value, type) and issubclass(value, Module):
            raise TypeError(f"{type(self).__name__}: item {position} is the class {value.__name__}; "
                            f"did you mean {value.__name__}()?")
        raise TypeError(f"{type(self).__name__}: item {position} is of type {type(value).__name__}, not a Module")

    def append(self, module):
        position = len(self)
        setattr(self, str(position), self.checked(module, position))
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        """Put module before `index` (negative counts from the end, as in list.insert); the modules
        after it move up one name."""
        modules = list(self)
        position = slice(index, None).indices(len(modules))[0]     # list.insert's clamping
        modules.insert(position, self.checked(module, position))
        for later in range(position, len(modules)):
            setattr(self, str(later), modules[later])

    def __getitem__(self, index):
        """The module at `index`, or for a slice a container of the same kind holding those modules.
        A slice is a view: its modules keep the names they have in this container's model."""
        modules = list(self._modules.values())
        if not isinstance(index, slice):
            return modules[index]
        part = type(self).__new__(type(self))
        Module.__init__(part)
        for position, module in enumerate(modules[index]):
            part._modules[str(position)] = part.__dict__[str(position)] = module    # registered, not renamed
        return part

    def __setitem__(self, index, module):
        position = range(len(self))[operator.index(index)]      # an IndexError past either end
        setattr(self, str(position), self.checked(module, position))

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

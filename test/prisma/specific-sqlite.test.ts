import { prismaBackendTests } from './specific.js';

prismaBackendTests('sqlite');
